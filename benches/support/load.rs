//! Driving the composed router in a benchmark as clients would: signing in
//! through the pages, and a load of concurrent requests with latency
//! percentiles. Include with `#[path = "support/load.rs"] mod load;`.
// Each benchmark uses part of it.
#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Request, header},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub fn seconds() -> Duration {
    Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3))
}

pub fn clients() -> usize {
    std::env::var("BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(64)
}

/// How a request authenticates: a page's session cookie or an API token.
#[derive(Clone)]
pub enum Auth {
    Cookie(String),
    Bearer(String),
}

pub fn request(method: &str, path: &str, auth: &Auth, body: Option<serde_json::Value>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    req = match auth {
        Auth::Cookie(c) => req.header(header::COOKIE, c),
        Auth::Bearer(t) => req.header(header::AUTHORIZATION, format!("Bearer {t}")),
    };
    match body {
        Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    }
}

pub async fn send(router: &axum::Router, req: Request<Body>) -> (axum::http::StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

/// The `name=value` pairs of a response's cookies, as a `Cookie` header.
pub fn cookies_of(headers: &axum::http::HeaderMap) -> String {
    headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned()).collect::<Vec<_>>().join("; ")
}

/// The CSRF token of a page's form.
pub fn csrf_of(page: Vec<u8>) -> String {
    let html = String::from_utf8(page).unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("csrf token") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// Signs in through the pages, as a browser does; returns the cookie header.
pub async fn sign_in(router: &axum::Router, email: &str, password: &str) -> Auth {
    let (_, headers, body) = send(router, Request::get("/sign-in").body(Body::empty()).unwrap()).await;
    let (jar, csrf) = (cookies_of(&headers), csrf_of(body));
    let form = serde_html_form::to_string([("csrf_token", csrf.as_str()), ("practice", "riverside"), ("email", email), ("password", password)]).unwrap();
    let req = Request::post("/sign-in")
        .header(header::COOKIE, jar)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let (status, headers, _) = send(router, req).await;
    assert!(status.is_redirection(), "sign-in: {status}");
    Auth::Cookie(cookies_of(&headers))
}

/// A JSON request through the API that must succeed; its answer.
pub async fn api(router: &axum::Router, auth: &Auth, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, _, body) = send(router, request(method, path, auth, Some(body))).await;
    assert!(status.is_success(), "{method} {path}: {status} {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// [`api`] with `If-Match: "version"`, for writes to versioned records.
pub async fn api_at(router: &axum::Router, auth: &Auth, method: &str, path: &str, version: i64, body: serde_json::Value) -> serde_json::Value {
    let mut req = request(method, path, auth, Some(body));
    req.headers_mut().insert(header::IF_MATCH, format!("\"{version}\"").parse().unwrap());
    let (status, _, body) = send(router, req).await;
    assert!(status.is_success(), "{method} {path}: {status} {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// An API token made from a signed-in session (with its CSRF header), as a
/// member would make one on the tokens page.
pub async fn token(router: &axum::Router, auth: &Auth) -> Auth {
    let Auth::Cookie(cookie) = auth else { panic!("a token is made from a signed-in session") };
    let (_, _, page) = send(router, request("GET", "/tokens", auth, None)).await;
    let req = Request::post("/api/v1/tokens")
        .header(header::COOKIE, cookie)
        .header("x-csrf-token", csrf_of(page))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::json!({"name": "bench", "expires_in_days": 30}).to_string()))
        .unwrap();
    let (status, _, body) = send(router, req).await;
    assert!(status.is_success(), "token: {status} {}", String::from_utf8_lossy(&body));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    Auth::Bearer(body["token_secret"].as_str().unwrap().to_owned())
}

/// A new member of the demo practice: invited by the admin (`admin_token`)
/// with `roles`, joined through the invitation's page and signed in.
pub async fn join(router: &axum::Router, admin_token: &Auth, email: &str, roles: &[&str], name: &str) -> Auth {
    let invitation = api(router, admin_token, "POST", "/api/v1/invitations", serde_json::json!({"email": email, "roles": roles})).await;
    let link = url::Url::parse(invitation["link"].as_str().unwrap()).unwrap();
    let join = match link.query() {
        Some(q) => format!("{}?{q}", link.path()),
        None => link.path().to_owned(),
    };
    let (_, headers, page) = send(router, Request::get(&join).body(Body::empty()).unwrap()).await;
    let (jar, csrf) = (cookies_of(&headers), csrf_of(page));
    let password = "a long bench password 1";
    let form = serde_html_form::to_string([("csrf_token", csrf.as_str()), ("display_name", name), ("password", password)]).unwrap();
    let req = Request::post(&join).header(header::COOKIE, jar).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(form)).unwrap();
    let (status, _, _) = send(router, req).await;
    assert!(status.is_redirection(), "joining: {status}");
    sign_in(router, email, password).await
}

/// SQL statements one request makes, by `counter` (see
/// `state::count_statements`): the average of ten, one at a time.
pub async fn statements(router: &axum::Router, counter: &std::sync::atomic::AtomicU64, path: &str, auth: &Auth) -> f64 {
    use std::sync::atomic::Ordering;
    let before = counter.load(Ordering::Relaxed);
    for _ in 0..10 {
        let (status, _, _) = send(router, request("GET", path, auth, None)).await;
        assert!(status.is_success(), "{path}: {status}");
    }
    (counter.load(Ordering::Relaxed) - before) as f64 / 10.0
}

/// The machine's load average (1, 5 and 15 minutes), to print next to figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

pub struct Measured {
    pub requests: usize,
    pub per_second: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Requests per second and latency percentiles (ms) at `clients` concurrent clients.
pub async fn load(router: &axum::Router, path: &str, auth: &Auth, clients: usize) -> Measured {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + seconds();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (router, path, auth, latencies) = (router.clone(), path.to_owned(), auth.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let (status, _, body) = send(&router, request("GET", &path, &auth, None)).await;
                assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
                mine.push(t.elapsed());
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = std::mem::take(&mut *latencies.lock().unwrap());
    all.sort();
    let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Measured { requests: all.len(), per_second: all.len() as f64 / elapsed, p50: p(0.5), p95: p(0.95), p99: p(0.99) }
}

