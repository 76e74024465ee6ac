//! The OpenAPI description: every registered route (the route table that `build_app`
//! registers) is described and nothing else is; each route is really registered; the document
//! validates as OpenAPI 3 (openapi-spec-validator, installed by `make test`); the UI is served.

mod common;

use actix_web::test;
use common::{http::send, state};
use verity::{api::routes, build_app};

#[actix_web::test]
async fn every_registered_route_is_described_and_validates() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, doc) = send(&app, test::TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    for r in routes::ROUTES {
        let path = routes::openapi_path(r.path);
        let op = &paths.get(&path).unwrap_or_else(|| panic!("{path} is not described"))[r.method];
        assert!(op.is_object(), "{} {path} is not described", r.method);
        assert!(op["responses"].as_object().is_some_and(|m| !m.is_empty()), "{} {path}: no responses", r.method);
        let keyed = op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some()));
        assert_eq!(keyed, r.access != routes::Access::Public, "{} {path}: security", r.method);
        for (status, response) in op["responses"].as_object().unwrap() {
            let error_body =
                |c: &serde_json::Value| c["schema"]["$ref"].as_str().is_some_and(|r| r.ends_with("/ErrorBody"));
            if status.starts_with(['4', '5']) {
                if let Some(content) = response["content"].as_object().filter(|c| c.values().any(error_body)) {
                    assert!(
                        content.keys().all(|k| k == "application/problem+json"),
                        "{} {path} {status}: errors are served as application/problem+json, documented as {:?}",
                        r.method,
                        content.keys().collect::<Vec<_>>()
                    );
                }
            }
        }
    }
    let mut described = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                described += 1;
                assert!(
                    routes::ROUTES.iter().any(|r| r.method == method && routes::openapi_path(r.path) == *path),
                    "{method} {path} is described but not registered"
                );
            }
        }
    }
    assert_eq!(described, routes::ROUTES.len());

    let file = std::env::temp_dir().join(format!("verity-openapi-{}.json", std::process::id()));
    std::fs::write(&file, doc.to_string()).unwrap();
    let validator = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/pytools/bin/openapi-spec-validator");
    assert!(validator.exists(), "{} missing: run `make test` (scripts/pytools.sh installs it)", validator.display());
    let out = std::process::Command::new(&validator).arg(&file).output().expect("validator runs");
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[actix_web::test]
async fn every_route_in_the_table_is_really_registered() {
    let app = test::init_service(build_app(state().await)).await;
    for r in routes::ROUTES {
        let uri = routes::openapi_path(r.path).replace("{tail}", "index.html").replace(['{', '}'], "");
        let req = test::TestRequest::default().method(r.method.to_uppercase().parse().unwrap()).uri(&uri);
        let (s, body) = send(&app, req).await;
        assert!(!(s == 404 && body["code"] == "not_found"), "{} {uri}: the default 404", r.method);
        assert_ne!(s, 405, "{} {uri}", r.method);
    }
}

#[actix_web::test]
async fn the_ui_is_served_from_the_binary() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, page) = send(&app, test::TestRequest::get().uri("/docs/")).await;
    assert_eq!(s, 200);
    let page = page.as_str().unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(!page.contains("https://"), "the page loads nothing from the internet");
    let (s, js) = send(&app, test::TestRequest::get().uri("/docs/swagger-initializer.js")).await;
    assert_eq!(s, 200);
    assert!(js.as_str().unwrap().contains("/openapi.json"));
    let (s, _) = send(&app, test::TestRequest::get().uri("/docs")).await;
    assert_eq!(s, 308);
}

#[actix_web::test]
async fn request_bodies_are_the_field_declarations_the_handlers_parse_with() {
    let app = test::init_service(build_app(state().await)).await;
    let (_, doc) = send(&app, test::TestRequest::get().uri("/openapi.json")).await;
    let mut checked = 0;
    for r in routes::ROUTES {
        let op = &doc["paths"][routes::openapi_path(r.path)][r.method];
        let Some(spec) = r.fields else {
            assert!(op.get("requestBody").is_none(), "{} {}: a body without a declaration", r.method, r.path);
            continue;
        };
        let body = &op["requestBody"];
        assert_eq!(body["required"].as_bool(), Some(spec.body_required), "{} {}", r.method, r.path);
        let content = body["content"].as_object().unwrap();
        assert!(!content.is_empty(), "{} {}: no media type", r.method, r.path);
        for (media, c) in content {
            // A closed object, or (with an exactly-one rule) one closed object per alternative.
            let variants = c["schema"]["oneOf"].as_array().cloned().unwrap_or_else(|| vec![c["schema"].clone()]);
            assert_eq!(variants.len(), spec.exactly_one.len().max(1), "{} {} {media}", r.method, r.path);
            let mut described = std::collections::BTreeSet::new();
            for schema in &variants {
                assert_eq!(schema["additionalProperties"], false, "{} {} {media}", r.method, r.path);
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                    .unwrap_or_default();
                for (name, p) in schema["properties"].as_object().unwrap() {
                    described.insert(name.clone());
                    let f =
                        spec.field(name).unwrap_or_else(|| panic!("{} {}: {name} is not declared", r.method, r.path));
                    let alternative = spec.exactly_one.contains(&f.name);
                    assert_eq!(
                        required.contains(&f.name),
                        f.required || alternative,
                        "{} {} {media}: {name}",
                        r.method,
                        r.path
                    );
                    if matches!(f.kind, verity::api::fields::Kind::Image) {
                        let format = if media == "application/json" { "byte" } else { "binary" };
                        assert_eq!(p["format"], format, "{} {} {media}: {name}", r.method, r.path);
                    }
                }
            }
            let declared: std::collections::BTreeSet<String> = spec.fields.iter().map(|f| f.name.to_string()).collect();
            assert_eq!(described, declared, "{} {} {media}", r.method, r.path);
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} request bodies");
}
