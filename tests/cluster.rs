//! verity processes against a real Kubernetes API server (the k8s-test-apiserver that
//! `make test` starts, or the cluster in KUBECONFIG), each with its own POD_NAME: exactly one
//! leader at any time; `kill -9` of the leader and another takes over after the lease
//! duration; a graceful stop hands over at once; the `verity.dev/ready` condition appears on
//! each Pod with its reason and flips to Draining on SIGTERM; peers come from EndpointSlices.

mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use common::{
    k8s,
    server::{free_port, get, start, Server},
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use serde_json::{json, Value};

const LEASE: &str = "verity-leader";
const LEASE_SECONDS: u64 = 3;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

fn replica(ns: &str, pod: &str, extra: &[(&str, &str)]) -> Server {
    let dir = std::env::temp_dir().join(format!("verity-cluster-{ns}-{pod}"));
    let lease_seconds = LEASE_SECONDS.to_string();
    let mut env = vec![
        ("POD_NAME", pod),
        ("POD_NAMESPACE", ns),
        ("POD_IP", "10.0.0.1"),
        ("VERITY_LEASE_DURATION_SECONDS", lease_seconds.as_str()),
        ("VERITY_PEERS_SERVICE", "verity-peers"),
        ("VERITY_DATA_DIR", dir.to_str().unwrap()),
    ];
    env.extend_from_slice(extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, *v)).collect();
    start(free_port(), &env)
}

fn cluster_of(s: &Server) -> Value {
    get(&format!("{}/v1/cluster", s.base)).map(|(_, v)| v).unwrap_or(Value::Null)
}

fn leaders(replicas: &[(&str, Server)]) -> Vec<String> {
    replicas.iter().filter(|(_, s)| cluster_of(s)["leader"]["is_self"] == true).map(|(n, _)| n.to_string()).collect()
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(s: &Server) {
    assert!(Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status().unwrap().success());
}

#[test]
fn one_leader_then_failover_after_kill_and_immediate_handover_on_graceful_stop() {
    let rt = runtime();
    let client = rt.block_on(k8s::client());
    let ns = rt.block_on(k8s::namespace(&client, "verity-lead"));
    for p in ["a", "b", "c"] {
        rt.block_on(k8s::pod(&client, &ns, p));
    }
    let mut replicas: Vec<(&str, Server)> = ["a", "b", "c"].into_iter().map(|p| (p, replica(&ns, p, &[]))).collect();

    let first = wait_for("a leader", Duration::from_secs(30), || {
        let l = leaders(&replicas);
        (l.len() == 1).then(|| l[0].clone())
    });
    assert_eq!(rt.block_on(k8s::lease_holder(&client, &ns, LEASE)).as_deref(), Some(first.as_str()));
    // Exactly one leader at any time: sampled over several renewal periods.
    for _ in 0..40 {
        let l = leaders(&replicas);
        assert!(l.len() <= 1, "two leaders at once: {l:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (_, s) in &replicas {
        assert_eq!(cluster_of(s)["leader"]["holder"], first.as_str(), "every replica sees the same holder");
    }

    // kill -9: no release; another replica takes over once the record has not changed for the
    // lease duration.
    let i = replicas.iter().position(|(n, _)| *n == first).unwrap();
    let (_, mut killed) = replicas.remove(i);
    let killed_at = Instant::now();
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let second = wait_for("a new leader after kill -9", Duration::from_secs(30), || {
        let h = rt.block_on(k8s::lease_holder(&client, &ns, LEASE))?;
        (h != first).then_some(h)
    });
    let takeover = killed_at.elapsed();
    println!("kill -9 of {first}: {second} took over after {:.2} s (lease {LEASE_SECONDS} s)", takeover.as_secs_f64());
    assert!(takeover >= Duration::from_secs(LEASE_SECONDS) / 2, "taken over before the lease could expire");
    let l = wait_for("the new leader to know it", Duration::from_secs(10), || {
        let l = leaders(&replicas);
        (l.len() == 1).then_some(l)
    });
    assert_eq!(l, vec![second.clone()]);
    let transitions = rt.block_on(k8s::lease(&client, &ns, LEASE)).unwrap().spec.unwrap().lease_transitions;

    // Graceful stop: the Lease is released, and the last replica takes it at once (well within
    // the lease duration, which an expiry would need).
    let i = replicas.iter().position(|(n, _)| *n == second).unwrap();
    let (_, mut stopped) = replicas.remove(i);
    let stopped_at = Instant::now();
    sigterm(&stopped);
    let third = wait_for("a leader after the graceful stop", Duration::from_secs(30), || {
        let h = rt.block_on(k8s::lease_holder(&client, &ns, LEASE))?;
        (h != second).then_some(h)
    });
    let handover = stopped_at.elapsed();
    println!("graceful stop of {second}: {third} took over after {:.2} s", handover.as_secs_f64());
    assert_eq!(third, replicas[0].0);
    assert!(stopped.child.wait().unwrap().success());
    let after = rt.block_on(k8s::lease(&client, &ns, LEASE)).unwrap().spec.unwrap().lease_transitions;
    assert_eq!(after, transitions.map(|t| t + 1), "one transition per change of holder");
    assert!(handover < Duration::from_secs(LEASE_SECONDS), "the Lease was not handed over: it expired");
}

#[test]
fn readiness_condition_on_each_pod_and_its_flip_on_drain() {
    let rt = runtime();
    let client = rt.block_on(k8s::client());
    let ns = rt.block_on(k8s::namespace(&client, "verity-ready"));
    for p in ["r1", "r2"] {
        rt.block_on(k8s::pod(&client, &ns, p));
    }
    let r1 = replica(&ns, "r1", &[("VERITY_DRAIN_DELAY_SECONDS", "3")]);
    let mut r2 = replica(&ns, "r2", &[]);
    for p in ["r1", "r2"] {
        let c = wait_for("the condition", Duration::from_secs(20), || {
            rt.block_on(k8s::condition(&client, &ns, p)).filter(|(s, _)| s == "True")
        });
        assert_eq!(c, ("True".to_string(), "Ready".to_string()), "{p}");
    }
    assert_eq!(cluster_of(&r1)["condition"], json!({ "status": "True", "reason": "Ready" }));
    sigterm(&r1);
    // Within the drain delay: the condition is already False/Draining and /readyz agrees.
    let c = wait_for("Draining", Duration::from_secs(3), || {
        rt.block_on(k8s::condition(&client, &ns, "r1")).filter(|(s, _)| s == "False")
    });
    assert_eq!(c.1, "Draining");
    let (status, body) = get(&format!("{}/readyz", r1.base)).unwrap();
    assert_eq!((status, body["status"].as_str()), (503, Some("draining")));
    assert_eq!(rt.block_on(k8s::condition(&client, &ns, "r2")).unwrap().0, "True", "the other pod stays ready");
    r2.child.kill().unwrap();
    let _ = r2.child.wait();
}

#[test]
fn peers_come_from_the_endpointslices_of_the_headless_service() {
    let rt = runtime();
    let client = rt.block_on(k8s::client());
    let ns = rt.block_on(k8s::namespace(&client, "verity-peers"));
    rt.block_on(k8s::pod(&client, &ns, "p1"));
    let s = replica(&ns, "p1", &[]);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
    let slice = |p2_ready: bool| -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": { "name": "verity-peers-abc", "labels": { "kubernetes.io/service-name": "verity-peers" } },
            "addressType": "IPv4",
            "endpoints": [
                { "addresses": ["10.0.0.1"], "conditions": { "ready": true }, "targetRef": { "kind": "Pod", "name": "p1" } },
                { "addresses": ["10.0.0.2"], "conditions": { "ready": p2_ready }, "targetRef": { "kind": "Pod", "name": "p2" } }
            ],
            "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }]
        }))
        .unwrap()
    };
    // Another Service's slice in the namespace must not count.
    let mut other = slice(true);
    other.metadata.name = Some("other-xyz".into());
    other.metadata.labels = Some([("kubernetes.io/service-name".to_string(), "other".to_string())].into());
    rt.block_on(slices.create(&PostParams::default(), &other)).unwrap();
    rt.block_on(slices.create(&PostParams::default(), &slice(false))).unwrap();
    let peers = wait_for("two peers", Duration::from_secs(20), || {
        let p = cluster_of(&s)["peers"].clone();
        (p.as_array().map(Vec::len) == Some(2)).then_some(p)
    });
    assert_eq!(
        peers,
        json!([{ "name": "p1", "ip": "10.0.0.1", "ready": true }, { "name": "p2", "ip": "10.0.0.2", "ready": false }])
    );
    let mut updated = rt.block_on(slices.get("verity-peers-abc")).unwrap();
    updated.endpoints = slice(true).endpoints;
    rt.block_on(slices.replace("verity-peers-abc", &PostParams::default(), &updated)).unwrap();
    wait_for("p2 ready", Duration::from_secs(20), || (cluster_of(&s)["peers"][1]["ready"] == true).then_some(()));
    rt.block_on(slices.delete("verity-peers-abc", &Default::default())).unwrap();
    wait_for("no peers", Duration::from_secs(20), || {
        (cluster_of(&s)["peers"].as_array().map(Vec::len) == Some(0)).then_some(())
    });
}

#[test]
fn outside_kubernetes_the_cluster_features_are_off() {
    let dir = std::env::temp_dir().join(format!("verity-cluster-off-{}", std::process::id()));
    let s = start(free_port(), &[("VERITY_DATA_DIR", dir.to_str().unwrap())]);
    let c = cluster_of(&s);
    assert_eq!((c["enabled"].as_bool(), c["leader"]["is_self"].as_bool()), (Some(false), Some(false)), "{c}");
    let (status, r) = get(&format!("{}/readyz", s.base)).unwrap();
    assert_eq!((status, r["cluster"]["enabled"].as_bool()), (200, Some(false)));
}

fn metric(s: &Server, name: &str) -> f64 {
    let text = common::server::agent()
        .get(format!("{}/metrics", s.base))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    text.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().last()?.parse().ok()).unwrap_or(0.0)
}

#[test]
fn only_the_leader_runs_the_retention_purge() {
    let url = std::env::var("VERITY_TEST_DATABASE_URL").expect("VERITY_TEST_DATABASE_URL: run `make test`");
    let rt = runtime();
    let client = rt.block_on(k8s::client());
    let ns = rt.block_on(k8s::namespace(&client, "verity-purge"));
    for p in ["m1", "m2"] {
        rt.block_on(k8s::pod(&client, &ns, p));
    }
    let env = [("VERITY_DATABASE_URL", url.as_str()), ("VERITY_MAINTENANCE_INTERVAL_SECONDS", "1")];
    let replicas = vec![("m1", replica(&ns, "m1", &env)), ("m2", replica(&ns, "m2", &env))];
    let leader = wait_for("a leader", Duration::from_secs(30), || {
        let l = leaders(&replicas);
        (l.len() == 1).then(|| l[0].clone())
    });
    let (lead, follow) =
        if leader == "m1" { (&replicas[0].1, &replicas[1].1) } else { (&replicas[1].1, &replicas[0].1) };
    let collection = format!("purge{}", std::process::id());
    let (s, _) =
        common::server::post(&format!("{}/v1/collections", follow.base), &json!({ "id": collection })).unwrap();
    assert_eq!(s, 201);
    let soon = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_secs(2)).unwrap().to_string();
    let body = json!({ "image": common::http::b64("obama.jpg"), "external_id": "temp", "expires_at": soon });
    let (s, r) = common::server::post(&format!("{}/v1/collections/{collection}/faces", follow.base), &body).unwrap();
    assert_eq!(s, 201, "{r}");
    let faces = |s: &Server| get(&format!("{}/v1/collections/{collection}/faces", s.base)).unwrap().1["faces"].clone();
    wait_for("the purge", Duration::from_secs(20), || (faces(follow).as_array()?.is_empty()).then_some(()));
    // The follower sees the rows gone as soon as the leader's delete commits; the leader counts
    // them just after: wait for the count rather than race it.
    wait_for("the leader's purge count", Duration::from_secs(20), || {
        (metric(lead, "verity_retention_purged_faces_total") >= 1.0).then_some(())
    });
    assert_eq!(metric(follow, "verity_retention_purged_faces_total"), 0.0, "a follower purged");
}

#[test]
fn a_reembed_job_over_three_processes_does_each_chunk_exactly_once_despite_a_kill() {
    let url = std::env::var("VERITY_TEST_DATABASE_URL").expect("VERITY_TEST_DATABASE_URL: run `make test`");
    let rt = runtime();
    let client = rt.block_on(k8s::client());
    let ns = rt.block_on(k8s::namespace(&client, "verity-jobs"));
    let pods = ["j1", "j2", "j3"];
    for p in pods {
        rt.block_on(k8s::pod(&client, &ns, p));
    }
    // The headless Service's EndpointSlice, as the endpoint controller would write it.
    let endpoints: Vec<Value> = pods
        .iter()
        .enumerate()
        .map(|(i, p)| json!({ "addresses": [format!("10.0.1.{}", i + 1)], "conditions": { "ready": true }, "targetRef": { "kind": "Pod", "name": p } }))
        .collect();
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": { "name": "verity-peers-j", "labels": { "kubernetes.io/service-name": "verity-peers" } },
        "addressType": "IPv4", "endpoints": endpoints, "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }]
    }))
    .unwrap();
    rt.block_on(Api::<EndpointSlice>::namespaced(client.clone(), &ns).create(&PostParams::default(), &slice)).unwrap();
    let env = [("VERITY_DATABASE_URL", url.as_str()), ("VERITY_JOBS_THROTTLE_MS", "500")];
    let mut replicas: Vec<(&str, Server)> = pods.iter().map(|p| (*p, replica(&ns, p, &env))).collect();
    let leader = wait_for("a leader", Duration::from_secs(30), || {
        let l = leaders(&replicas);
        (l.len() == 1).then(|| l[0].clone())
    });
    wait_for("every replica to see three ready peers", Duration::from_secs(20), || {
        replicas.iter().all(|(_, s)| cluster_of(s)["peers"].as_array().map(Vec::len) == Some(3)).then_some(())
    });

    let collection = format!("jobs{}", std::process::id());
    let base = replicas[0].1.base.clone();
    assert_eq!(common::server::post(&format!("{base}/v1/collections"), &json!({ "id": collection })).unwrap().0, 201);
    let faces = 12;
    for i in 0..faces {
        let body = json!({ "image": common::http::b64("obama.jpg"), "external_id": format!("person-{i}") });
        let (s, r) = common::server::post(&format!("{base}/v1/collections/{collection}/faces"), &body).unwrap();
        assert_eq!(s, 201, "{r}");
    }
    let (s, job) =
        common::server::post(&format!("{base}/v1/collections/{collection}/reembed"), &json!({ "chunk_size": 1 }))
            .unwrap();
    assert_eq!((s, job["mode"].as_str(), job["chunks"].as_i64()), (202, Some("cluster"), Some(faces)), "{job}");
    let job_id = job["job_id"].as_str().unwrap().to_string();

    // Kill -9 a worker (not the leader) while it holds a chunk it has not finished.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(client.clone(), &ns);
    let victim = wait_for("a worker holding a chunk", Duration::from_secs(30), || {
        let list = rt.block_on(leases.list(&kube::api::ListParams::default().labels("verity.dev/job"))).ok()?;
        list.items.iter().filter_map(|l| l.spec.as_ref()?.holder_identity.clone()).find(|h| *h != leader)
    });
    let i = replicas.iter().position(|(n, _)| *n == victim).unwrap();
    let (_, mut killed) = replicas.remove(i);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    println!("killed {victim} mid-job (leader {leader})");

    let survivor = replicas[0].1.base.clone();
    let status = wait_for("the job to complete", Duration::from_secs(90), || {
        let (_, s) = get(&format!("{survivor}/v1/jobs/{job_id}"))?;
        (s["state"] == "completed").then_some(s)
    });
    println!("job {job_id}: {status}");
    assert_eq!((status["done_chunks"].as_i64(), status["done_faces"].as_i64()), (Some(faces), Some(faces)));
    let by = status["done_by"].as_object().unwrap();
    assert_eq!(by.values().map(|v| v.as_i64().unwrap()).sum::<i64>(), faces);
    assert!(by.len() >= 2, "the work was shared: {by:?}");
    // Exactly once: every face got exactly one new embedding in the change log.
    let counts: Vec<i64> = rt.block_on(async {
        let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let rows = db
            .query(
                "SELECT COUNT(*) FROM verity_changes WHERE op = 'update_face' AND collection = $1 GROUP BY face_id",
                &[&collection],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    });
    assert_eq!(counts.len() as i64, faces, "every face re-embedded");
    assert!(counts.iter().all(|&c| c == 1), "a face was re-embedded twice: {counts:?}");
    let left =
        rt.block_on(leases.list(&kube::api::ListParams::default().labels("verity.dev/job"))).unwrap().items.len();
    assert_eq!(left, 0, "finished chunks' leases are deleted");
}

#[test]
fn an_unreachable_api_server_never_stops_the_server() {
    // A kubeconfig whose server refuses connections.
    let dir = std::env::temp_dir().join(format!("verity-noapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:9\n\
         users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: gone\n  context: {cluster: gone, user: u, namespace: default}\n\
         current-context: gone\n",
    )
    .unwrap();
    let s = replica("default", "lonely", &[("KUBECONFIG", kubeconfig.to_str().unwrap())]);
    let c = wait_for("the cluster errors to show", Duration::from_secs(20), || {
        let c = cluster_of(&s);
        c["errors"].as_object().is_some_and(|e| !e.is_empty()).then_some(c)
    });
    assert_eq!(c["enabled"], true);
    assert_eq!(c["leader"]["is_self"], false, "no leadership without the API");
    let (status, r) = get(&format!("{}/readyz", s.base)).unwrap();
    assert_eq!(status, 200, "serving goes on: {r}");
    assert!(r["cluster"]["errors"].as_object().is_some_and(|e| !e.is_empty()), "{r}");
    let (s2, _) = common::server::post(
        &format!("{}/v1/faces/detect", s.base),
        &json!({ "image": common::http::b64("obama.jpg") }),
    )
    .unwrap();
    assert_eq!(s2, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
