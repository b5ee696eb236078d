# The spool CLI in a container (used by docker-compose.yml). It runs as the unprivileged user
# `spool` (uid 10001); its outpoint reservations live in the /data volume.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --package spool-cli --bin spool

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 spool \
    && useradd --system --uid 10001 --gid spool --create-home --home-dir /home/spool \
        --shell /usr/sbin/nologin spool \
    && mkdir /data \
    && chown spool:spool /data
COPY --from=build /src/target/release/spool /usr/local/bin/spool
# Numeric, so that a runtime can check it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/spool
ENV SPOOL_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["spool"]
CMD ["--help"]
