//! Whether the gallery's store answers: every store operation reports its outcome here, so
//! `/readyz`, `/v1/info` and the metrics say when the database went away, why, and when it came
//! back.

use std::sync::Mutex;

use super::store::StoreError;
use crate::telemetry::metrics;

#[derive(Debug, Clone)]
pub struct Outage {
    pub since: jiff::Timestamp,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct Health {
    outage: Mutex<Option<Outage>>,
}

impl Health {
    /// An operation's outcome: an outage error opens (or extends) an outage; anything the
    /// database answered, a refusal included, ends it.
    pub fn record<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Err(e) if e.is_outage() => self.failed(&e.to_string()),
            _ => self.ok(),
        }
    }

    pub fn failed(&self, error: &str) {
        let mut o = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        match o.as_mut() {
            Some(outage) => outage.error = error.to_string(),
            None => {
                tracing::warn!(error, "gallery store unavailable: gallery routes answer 503 until it is back");
                metrics::get().set_gallery_store_up(false);
                *o = Some(Outage { since: jiff::Timestamp::now(), error: error.to_string() });
            }
        }
    }

    pub fn ok(&self) {
        let mut o = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(outage) = o.take() {
            let seconds = jiff::Timestamp::now().duration_since(outage.since).as_secs_f64();
            tracing::info!(down_seconds = seconds, "gallery store reachable again");
        }
        metrics::get().set_gallery_store_up(true);
    }

    pub fn outage(&self) -> Option<Outage> {
        self.outage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
