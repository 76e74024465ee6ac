//! Singleton gallery work: the retention purge (faces past their `expires_at`) and change-log
//! compaction. In Kubernetes only the leader runs it; outside, the single replica does.

use std::{sync::Arc, time::Duration};

use super::Cluster;
use crate::{gallery::Gallery, telemetry::metrics};

pub async fn run(gallery: Arc<Gallery>, cluster: Arc<Cluster>, every: Duration, keep: i64) {
    loop {
        tokio::time::sleep(every).await;
        if (cluster.is_enabled() && !cluster.is_leader()) || !gallery.is_ready() {
            continue;
        }
        match gallery.purge_expired().await {
            Ok(0) => {}
            Ok(n) => {
                metrics::get().count_purged(n);
                tracing::info!(faces = n, "retention purge: deleted faces past their expires_at");
            }
            Err(e) => tracing::warn!("retention purge failed: {e}; retrying next round"),
        }
        match gallery.compact(keep).await {
            Ok((0, _)) => {}
            Ok((n, floor)) => tracing::info!(entries = n, floor, "change log compacted"),
            Err(e) => tracing::warn!("change-log compaction failed: {e}; retrying next round"),
        }
    }
}
