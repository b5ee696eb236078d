//! `/tx/{txid}`: the decoded verb, sender, recipients, fee, confirmations, validity and the
//! raw hex of one transaction.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, Amount, Txid};
use maud::{html, Markup};
use spool_protocol::chain::ChainTx;
use spool_protocol::history::Event;
use spool_protocol::payload::find_verb;

use super::{address_link, event_status, layout, piece_link, row, Site};

/// The transaction page. `event` is the transaction as an event of its piece's history, when
/// it is one; `replaced_by` the transaction that replaced it in the mempool, when it left the
/// mempool that way; `tip` the height confirmations are counted from.
pub(crate) fn render(
    site: &Site<'_>,
    chain_tx: &ChainTx,
    event: Option<&Event>,
    replaced_by: Option<&Txid>,
    tip: u64,
) -> Markup {
    let tx = &chain_tx.tx;
    let txid = chain_tx.txid().to_string();
    let name = |script: &bitcoin::Script| match Address::from_script(script, site.network) {
        Ok(a) => a.to_string(),
        Err(_) => format!("script:{}", script.to_hex_string()),
    };
    let found = find_verb(tx);
    let verb_vout = found.as_ref().ok().map(|(vout, _)| *vout as usize);
    let mut senders: Vec<String> = chain_tx
        .prevouts
        .iter()
        .map(|o| name(&o.script_pubkey))
        .collect();
    senders.dedup();
    let paid: Option<Amount> = if chain_tx.prevouts.len() == tx.input.len() && !tx.input.is_empty()
    {
        let inputs: Amount = chain_tx.prevouts.iter().map(|o| o.value).sum();
        let outputs: Amount = tx.output.iter().map(|o| o.value).sum();
        inputs.checked_sub(outputs)
    } else {
        None
    };
    let body = html! {
        section.title-block {
            h1 { "Transaction " span.hash #txid { (txid) } }
            @if let Some(by) = replaced_by {
                p.warn #replaced-by {
                    "Replaced by "
                    a.hash href={ "/tx/" (by) } { (by) }
                    ": it left the mempool when that transaction (a fee bump of the same action, or another spending the same outputs) took its place. It will not confirm unless that one is dropped."
                }
            }
            dl.facts {
                (row("Verb", html! {
                    @match &found {
                        Ok((_, verb)) => {
                            code #verb { (verb) }
                            @let decoded = verb.decoded();
                            " " span.muted {
                                "action " (decoded.action)
                                @if let Some(n) = decoded.edition_number { ", edition " (n) }
                                @if let Some(n) = decoded.num_editions { ", " (n) " editions" }
                                @if let (Some(s), Some(e)) = (&decoded.loan_start, &decoded.loan_end) { ", loan " (s) "–" (e) }
                            }
                        }
                        Err(flaw) => span.muted #verb { "not a SPOOL transaction: " (flaw) },
                    }
                }))
                (row("Sender", html! {
                    @if senders.is_empty() { span.muted { "unknown (no previous outputs)" } }
                    @for (i, s) in senders.iter().enumerate() {
                        @if i > 0 { ", " }
                        (address_link(s))
                    }
                }))
                (row("Fee", html! {
                    @match paid {
                        Some(fee) => { (fee.to_sat()) " sat" }
                        None => span.muted { "unknown" },
                    }
                }))
                (row("Confirmations", html! {
                    span #confirmations { (chain_tx.place.confirmations(tip)) }
                    @if let Some(h) = chain_tx.place.height() { " (block " (h) ")" }
                    @else if replaced_by.is_some() { " (replaced: no longer in the mempool)" }
                    @else { " (in the mempool)" }
                }))
                (row("Validity", html! {
                    span #validity {
                        @match event {
                            Some(event) => {
                                (event_status(event))
                                " as an event of piece " (piece_link(&event.piece_address))
                            }
                            None if replaced_by.is_some() => span.muted { "not an event: it was replaced" },
                            None => span.muted { "not an event of any piece's history" },
                        }
                    }
                }))
            }
        }
        section {
            h2 { "Recipients" }
            table #outputs {
                thead { tr { th { "Output" } th { "Recipient" } th { "Value" } } }
                tbody {
                    @for (vout, output) in tx.output.iter().enumerate() {
                        tr {
                            td data-label="Output" { (vout) }
                            td data-label="Recipient" {
                                @if Some(vout) == verb_vout {
                                    span.muted { "OP_RETURN (the verb)" }
                                } @else {
                                    (address_link(&name(&output.script_pubkey)))
                                }
                            }
                            td data-label="Value" { (output.value.to_sat()) " sat" }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Raw transaction" }
            pre.raw #raw { (serialize_hex(tx)) }
        }
    };
    layout(site, &format!("Transaction {txid}"), body)
}
