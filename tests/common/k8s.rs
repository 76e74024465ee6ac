//! The Kubernetes API server of the cluster tests: `KUBECONFIG` (set by `make test`, which
//! starts the k8s-test-apiserver, or pointing at a real cluster), one namespace per test, and
//! the objects verity expects: its Pods (nothing creates them here: no controllers) and the
//! EndpointSlices of the headless Service.

use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::{
    coordination::v1::Lease,
    core::v1::{Namespace, Pod},
};
use kube::{
    api::{Api, PostParams},
    Client,
};
use serde_json::json;

pub async fn client() -> Client {
    assert!(
        std::env::var_os("KUBECONFIG").is_some(),
        "KUBECONFIG is not set: run `make test` (it starts the k8s-test-apiserver), or point it at a cluster"
    );
    Client::try_default().await.expect("a Kubernetes client from KUBECONFIG")
}

/// A fresh namespace for one test.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("namespace created");
    name
}

/// A Pod object named `name` (what the Deployment would have created).
pub async fn pod(client: &Client, ns: &str, name: &str) {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "app.kubernetes.io/name": "verity" } },
        "spec": {
            "containers": [{ "name": "verity", "image": "verity:test" }],
            "readinessGates": [{ "conditionType": "verity.dev/ready" }]
        }
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), ns).create(&PostParams::default(), &pod).await.expect("pod created");
}

/// The `verity.dev/ready` condition of a Pod: (status, reason).
pub async fn condition(client: &Client, ns: &str, name: &str) -> Option<(String, String)> {
    let pod = Api::<Pod>::namespaced(client.clone(), ns).get(name).await.ok()?;
    let c = pod.status?.conditions?.into_iter().find(|c| c.type_ == "verity.dev/ready")?;
    Some((c.status, c.reason.unwrap_or_default()))
}

pub async fn lease(client: &Client, ns: &str, name: &str) -> Option<Lease> {
    Api::<Lease>::namespaced(client.clone(), ns).get_opt(name).await.ok().flatten()
}

pub async fn lease_holder(client: &Client, ns: &str, name: &str) -> Option<String> {
    lease(client, ns, name).await?.spec?.holder_identity.filter(|h| !h.is_empty())
}
