//! Two (then three) real verity processes on one PostgreSQL: a write through one is found
//! through the other within a second, an erasure through the second is gone from the first, and
//! a process started later is ready only once caught up and answers the same.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::server::{delete, free_port, get, post, start};
use serde_json::{json, Value};

fn image(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(common::image_bytes(name))
}

fn search(base: &str, collection: &str, img: &str) -> Value {
    let (s, body) =
        post(&format!("{base}/v1/collections/{collection}/search"), &json!({ "image": image(img), "top_k": 3 }))
            .unwrap();
    assert_eq!(s, 200, "{body}");
    body
}

fn first_match(r: &Value) -> Option<&str> {
    r["matches"][0]["external_id"].as_str()
}

#[test]
fn processes_on_one_postgres_share_the_gallery() {
    let url = std::env::var("VERITY_TEST_DATABASE_URL")
        .expect("VERITY_TEST_DATABASE_URL is not set: run `make test`, or `export VERITY_TEST_DATABASE_URL=$(scripts/pg.sh start)`");
    let env = [("VERITY_DATABASE_URL", url.as_str()), ("VERITY_GALLERY_POLL_MS", "1000")];
    let a = start(free_port(), &env);
    let b = start(free_port(), &env);
    let collection = format!("proc{}", std::process::id());
    assert_eq!(post(&format!("{}/v1/collections", a.base), &json!({ "id": collection })).unwrap().0, 201);
    for (id, img) in [("obama", "obama.jpg"), ("biden", "biden.jpg")] {
        let (s, body) = post(
            &format!("{}/v1/collections/{collection}/faces", a.base),
            &json!({ "image": image(img), "external_id": id }),
        )
        .unwrap();
        assert_eq!(s, 201, "{body}");
    }

    let enrolled = Instant::now();
    let mut found = search(&b.base, &collection, "obama2.jpg");
    while first_match(&found) != Some("obama") && enrolled.elapsed() < Duration::from_secs(1) {
        found = search(&b.base, &collection, "obama2.jpg");
    }
    let seen_after = enrolled.elapsed();
    assert_eq!(first_match(&found), Some("obama"), "B did not find A's enrollment within 1 s: {found}");
    eprintln!("process B found process A's enrollment {seen_after:?} after A acknowledged it");

    assert_eq!(delete(&format!("{}/v1/collections/{collection}/subjects/obama", b.base)), Some(200));
    let erased = Instant::now();
    let mut after = search(&a.base, &collection, "obama2.jpg");
    while first_match(&after) == Some("obama") && erased.elapsed() < Duration::from_secs(1) {
        after = search(&a.base, &collection, "obama2.jpg");
    }
    assert_ne!(first_match(&after), Some("obama"), "A still finds the erased subject: {after}");
    eprintln!("process A stopped finding the erased subject {:?} after B's erasure", erased.elapsed());

    // A process started now is ready only when its index has caught up with the head.
    let c = start(free_port(), &env);
    let (_, ready) = get(&format!("{}/readyz", c.base)).unwrap();
    assert_eq!(ready["gallery"]["lag_sequences"], 0, "{ready}");
    assert_eq!(ready["gallery"]["applied_sequence"], ready["gallery"]["head_sequence"], "{ready}");
    assert_eq!(
        search(&c.base, &collection, "biden.jpg")["matches"],
        search(&a.base, &collection, "biden.jpg")["matches"]
    );
    assert_eq!(first_match(&search(&c.base, &collection, "biden.jpg")), Some("biden"));
    delete(&format!("{}/v1/collections/{collection}", a.base));
}
