//! `GET /metrics`: what an operator's Prometheus scrapes from `spool serve`, in the
//! OpenMetrics text format (which Prometheus reads), encoded by `prometheus-client`.
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `spool_index_height` | gauge | the last indexed block's height (-1 before the first) |
//! | `spool_node_height` | gauge | the node's best height at the follower's last look |
//! | `spool_index_lag_blocks` | gauge | how many blocks the index is behind its node |
//! | `spool_index_synced` | gauge | 1 when the index holds the node's tip and mempool |
//! | `spool_follower_rounds` | gauge | follower rounds (catch-up, then mempool) completed |
//! | `spool_index_mempool_transactions` | gauge | SPOOL transactions of the node's mempool in the index |
//! | `spool_index_transactions` | gauge | SPOOL transactions in the index (chain and mempool) |
//! | `spool_reservations_held` | gauge | reservations held for the operators acting through the server |
//! | `spool_filters_tested`, `spool_filters_matched`, `spool_filters_false_positives` | gauge | an index scoped with `--filters`: filters tested, blocks matched and fetched, matched blocks that held nothing of the federation's |
//! | `spool_http_requests_total{route,method,status}` | counter | requests answered, by route template |
//! | `spool_http_request_duration_seconds{route,method}` | histogram | time to answer, by route template |
//!
//! Routes are labelled by their template (`/api/v1/piece/{piece}/history`), never by the
//! path asked, so visitors cannot grow the label set; a path no route matches is
//! `unmatched`.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::api::ApiState;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: String,
    method: String,
}

type LatencyFamily = Family<LatencyLabels, Histogram, fn() -> Histogram>;

/// The server's metrics: the registry and the handles the request layer and the scrape
/// update.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    index_height: Gauge,
    node_height: Gauge,
    lag: Gauge,
    synced: Gauge,
    rounds: Gauge,
    mempool: Gauge,
    transactions: Gauge<u64, AtomicU64>,
    reservations: Gauge,
    filters_tested: Gauge<u64, AtomicU64>,
    filters_matched: Gauge<u64, AtomicU64>,
    filters_false_positives: Gauge<u64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry holding every metric of the module's table.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let index_height = Gauge::default();
        let node_height = Gauge::default();
        let lag = Gauge::default();
        let synced = Gauge::default();
        let rounds = Gauge::default();
        let mempool = Gauge::default();
        let transactions = Gauge::<u64, AtomicU64>::default();
        let reservations = Gauge::default();
        let filters_tested = Gauge::<u64, AtomicU64>::default();
        let filters_matched = Gauge::<u64, AtomicU64>::default();
        let filters_false_positives = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "spool_filters_tested",
            "Compact block filters tested (an index scoped with --filters)",
            filters_tested.clone(),
        );
        registry.register(
            "spool_filters_matched",
            "Blocks whose filter matched, fetched",
            filters_matched.clone(),
        );
        registry.register(
            "spool_filters_false_positives",
            "Matched blocks that held nothing of the federation's (the filters' false positives)",
            filters_false_positives.clone(),
        );
        registry.register(
            "spool_reservations_held",
            "Reservations held for the operators acting through this server",
            reservations.clone(),
        );
        registry.register(
            "spool_index_height",
            "The last indexed block's height (-1 before the first)",
            index_height.clone(),
        );
        registry.register(
            "spool_node_height",
            "The node's best height at the follower's last look",
            node_height.clone(),
        );
        registry.register(
            "spool_index_lag_blocks",
            "How many blocks the index is behind its node",
            lag.clone(),
        );
        registry.register(
            "spool_index_synced",
            "1 when the index holds the node's tip and mempool",
            synced.clone(),
        );
        registry.register(
            "spool_follower_rounds",
            "Follower rounds (catch-up, then mempool) completed",
            rounds.clone(),
        );
        registry.register(
            "spool_index_mempool_transactions",
            "SPOOL transactions of the node's mempool held by the index",
            mempool.clone(),
        );
        registry.register(
            "spool_index_transactions",
            "SPOOL transactions in the index, chain and mempool",
            transactions.clone(),
        );
        registry.register(
            "spool_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "spool_http_request_duration",
            "Time to answer an HTTP request, by route template and method",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            index_height,
            node_height,
            lag,
            synced,
            rounds,
            mempool,
            transactions,
            reservations,
            filters_tested,
            filters_matched,
            filters_false_positives,
        }
    }

    fn observe(&self, route: String, method: String, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels { route, method })
            .observe(seconds);
    }
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Counts every request and its latency by route template (a layer over the whole app).
pub async fn track(
    State(state): State<Arc<ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics().observe(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub(crate) async fn scrape(State(state): State<Arc<ApiState>>) -> Response {
    let sync = state.sync_state();
    let metrics = state.metrics();
    let indexed = sync.indexed.map(|(h, _)| h);
    metrics.index_height.set(indexed.map_or(-1, signed));
    metrics.node_height.set(signed(sync.node_height));
    metrics.lag.set(signed(
        sync.node_height.saturating_sub(indexed.unwrap_or_default()),
    ));
    metrics.synced.set(i64::from(sync.synced));
    metrics.rounds.set(signed(sync.rounds));
    metrics.filters_tested.set(sync.filters.tested);
    metrics.filters_matched.set(sync.filters.matched);
    metrics
        .filters_false_positives
        .set(sync.filters.false_positives);
    if let Ok(held) = state.reservations() {
        metrics.reservations.set(signed(held.len() as u64));
    }
    let counts = state
        .read(|store, _| {
            let mempool = store.mempool_txids().map_err(crate::api::ApiError::from)?;
            let all = store.spool_tx_count().map_err(crate::api::ApiError::from)?;
            Ok((mempool.len() as u64, all))
        })
        .await;
    match counts {
        Ok((mempool, all)) => {
            metrics.mempool.set(signed(mempool));
            metrics.transactions.set(all);
        }
        Err(err) => tracing::warn!(error = %err.message(), "metrics: cannot read the index"),
    }
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &metrics.registry).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response()
}
