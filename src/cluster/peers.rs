//! Peers: the endpoints of the headless Service, watched through its EndpointSlices
//! (`kubernetes.io/service-name` label), with the watcher's backoff on errors.

use std::{collections::BTreeMap, sync::Arc};

use futures_util::StreamExt;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::{
    api::Api,
    runtime::{watcher, WatchStreamExt},
    Client,
};

use super::{Cluster, Peer};

/// The peers one EndpointSlice lists.
pub fn peers_of(slice: &EndpointSlice) -> Vec<Peer> {
    slice
        .endpoints
        .iter()
        .filter_map(|e| {
            let ip = e.addresses.first()?.clone();
            let name = e.target_ref.as_ref().and_then(|t| t.name.clone()).unwrap_or_else(|| ip.clone());
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            Some(Peer { name, ip, ready })
        })
        .collect()
}

fn publish(cluster: &Cluster, slices: &BTreeMap<String, Vec<Peer>>) {
    let mut peers: Vec<Peer> = slices.values().flatten().cloned().collect();
    peers.sort_by(|a, b| a.name.cmp(&b.name));
    peers.dedup_by(|a, b| a.name == b.name);
    cluster.update(|s| s.peers = peers);
}

pub async fn run(cluster: Arc<Cluster>, client: Client, namespace: String, service: String) {
    let api: Api<EndpointSlice> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().labels(&format!("kubernetes.io/service-name={service}"));
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut slices: BTreeMap<String, Vec<Peer>> = BTreeMap::new();
    let mut initial: BTreeMap<String, Vec<Peer>> = BTreeMap::new();
    let mut stop = cluster.stop.subscribe();
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            _ = stop.changed() => break,
        };
        let Some(event) = event else { break };
        match event {
            Ok(watcher::Event::Init) => initial.clear(),
            Ok(watcher::Event::InitApply(s)) => {
                initial.insert(s.metadata.name.clone().unwrap_or_default(), peers_of(&s));
            }
            Ok(watcher::Event::InitDone) => {
                slices = std::mem::take(&mut initial);
                cluster.clear_error("peers");
                publish(&cluster, &slices);
            }
            Ok(watcher::Event::Apply(s)) => {
                slices.insert(s.metadata.name.clone().unwrap_or_default(), peers_of(&s));
                publish(&cluster, &slices);
            }
            Ok(watcher::Event::Delete(s)) => {
                slices.remove(&s.metadata.name.clone().unwrap_or_default());
                publish(&cluster, &slices);
            }
            Err(e) => cluster.set_error("peers", format!("watching the EndpointSlices of {service}: {e}")),
        }
    }
}
