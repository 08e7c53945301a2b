//! Prometheus metrics. Code anywhere records through the `metrics` facade
//! (a no-op until [`install`] runs); `GET /metrics` on the listener of its
//! own (`metrics_bind`, never the public port) renders them in Prometheus
//! text format.
//!
//! Labels name routes by their template (`/api/v1/couples/{id}`), methods,
//! statuses, pools, background jobs and practice ids: never a person, a
//! couple or anything a request carried.

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{Router, http::header, response::IntoResponse, routing::get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseBackend, DatabaseConnection};

/// Requests answered, by `method`, `route` (template) and `status`.
pub const HTTP_REQUESTS: &str = "tandem_http_requests_total";
/// Time from the request's arrival to its response head, same labels.
pub const HTTP_DURATION: &str = "tandem_http_request_duration_seconds";
/// One group commit of access events: how long it took...
pub const AUDIT_APPEND_DURATION: &str = "tandem_audit_append_duration_seconds";
/// ...and how many events it carried.
pub const AUDIT_APPEND_BATCH: &str = "tandem_audit_append_batch_events";
/// Group commits that failed (their requests answered 503).
pub const AUDIT_APPEND_FAILURES: &str = "tandem_audit_append_failures_total";
/// Checkpoints signed, by `practice_id`.
pub const CHECKPOINTS_SIGNED: &str = "tandem_audit_checkpoints_signed_total";
/// Verifications, by `practice_id` and `result` (ok, failed, not_checked).
pub const VERIFICATIONS: &str = "tandem_audit_verifications_total";
/// 1 when the practice's latest verification found its chain intact, else 0.
pub const VERIFICATION_OK: &str = "tandem_audit_verification_ok";
/// Unix time of the practice's latest verification.
pub const VERIFICATION_TIME: &str = "tandem_audit_verification_timestamp_seconds";
/// Background rounds, by `job` and `outcome` (ran, skipped: another replica
/// ran it or runs it, failed).
pub const BACKGROUND_ROUNDS: &str = "tandem_background_rounds_total";
/// Database pool gauges, by `pool` (requests, audit_appender).
pub const DB_POOL_CONNECTIONS: &str = "tandem_db_pool_connections";
pub const DB_POOL_IDLE: &str = "tandem_db_pool_idle_connections";
pub const DB_POOL_MAX: &str = "tandem_db_pool_max_connections";
/// Sealed clinical values opened (decrypted) by this process...
pub const SEALED_OPENED: &str = "tandem_sealed_values_opened_total";
/// ...and the time that took, in microseconds (a counter holds integers):
/// what encryption at rest costs the requests.
pub const SEALED_OPEN_MICROSECONDS: &str = "tandem_sealed_values_open_microseconds_total";
/// Reads of a couple that may be kept in memory (the overview, and the
/// couple page's and session prep's other reads), by `cache`: `hit` (kept
/// at the couple's current revision), `miss` (read from the database and
/// kept), `bypass` (not kept: a partner's or an emergency view, a write,
/// keeping turned off).
pub const OVERVIEW_READS: &str = "tandem_overview_reads_total";
/// PDFs answered, by `cache`: `hit` (an equal document's rendering, kept),
/// `miss` (rendered and kept), `bypass` (rendered; keeping turned off).
pub const PDF_RENDERS: &str = "tandem_pdf_renders_total";

/// Request latencies: 1 ms to 30 s (the request timeout).
const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Events per commit: 1 to the appender's largest batch (256).
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

// Counted here rather than through the facade: an opening takes a tenth of a
// microsecond, and a facade lookup on every one would cost nearly as much.
static OPENED: AtomicU64 = AtomicU64::new(0);
static OPEN_NANOS: AtomicU64 = AtomicU64::new(0);

/// One sealed value was opened, in `took`.
pub fn sealed_value_opened(took: Duration) {
    OPENED.fetch_add(1, Ordering::Relaxed);
    OPEN_NANOS.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// How many sealed values this process has opened, and the time that took.
pub fn sealed_values_opened() -> (u64, Duration) {
    (OPENED.load(Ordering::Relaxed), Duration::from_nanos(OPEN_NANOS.load(Ordering::Relaxed)))
}

/// Installs the process-wide recorder (once; later calls return the same
/// handle) and starts its upkeep, which folds histogram samples together so
/// an unscraped process does not keep them all. Must run inside Tokio.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(AUDIT_APPEND_BATCH.into()), BATCH))
                .expect("bucket lists are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe();
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    upkeep.run_upkeep();
                }
            });
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "Requests answered, by method, route template and status.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to answer a request, by method, route template and status.");
    describe_histogram!(AUDIT_APPEND_DURATION, Unit::Seconds, "Time one group commit of access events took.");
    describe_histogram!(AUDIT_APPEND_BATCH, Unit::Count, "Access events carried by one group commit.");
    describe_counter!(AUDIT_APPEND_FAILURES, "Group commits of access events that failed.");
    describe_counter!(CHECKPOINTS_SIGNED, "Access-log checkpoints signed, by practice id.");
    describe_counter!(VERIFICATIONS, "Access-log verifications, by practice id and result.");
    describe_gauge!(VERIFICATION_OK, "1 if the practice's latest verification found its access log intact.");
    describe_gauge!(VERIFICATION_TIME, Unit::Seconds, "Unix time of the practice's latest verification.");
    describe_counter!(BACKGROUND_ROUNDS, "Once-per-practice background rounds, by job and outcome.");
    describe_gauge!(DB_POOL_CONNECTIONS, "Open connections in the pool.");
    describe_gauge!(DB_POOL_IDLE, "Idle connections in the pool.");
    describe_gauge!(DB_POOL_MAX, "Most connections the pool opens.");
    describe_counter!(SEALED_OPENED, "Sealed clinical values opened (decrypted).");
    describe_counter!(SEALED_OPEN_MICROSECONDS, Unit::Microseconds, "Time spent opening sealed clinical values.");
    describe_counter!(PDF_RENDERS, "PDFs answered, by whether the rendering of an equal document kept in memory served them.");
    describe_counter!(OVERVIEW_READS, "Reads of a couple (overview, sessions, check-ins, agenda), by whether a copy kept in memory served them.");
}

/// Sets the pool gauges of `db` under the label `pool`.
pub fn record_pool(pool: &'static str, db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
        DatabaseBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
        _ => return,
    };
    metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool).set(f64::from(size));
    metrics::gauge!(DB_POOL_IDLE, "pool" => pool).set(idle as f64);
    metrics::gauge!(DB_POOL_MAX, "pool" => pool).set(f64::from(max));
}

/// The whole text a scrape gets: the request pool sampled now, then
/// everything recorded.
pub fn render(handle: &PrometheusHandle, db: &DatabaseConnection) -> String {
    record_pool("requests", db);
    let (opened, took) = sealed_values_opened();
    metrics::counter!(SEALED_OPENED).absolute(opened);
    metrics::counter!(SEALED_OPEN_MICROSECONDS).absolute(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    handle.render()
}

/// What the metrics listener serves: `GET /metrics`, nothing else.
pub fn router(handle: PrometheusHandle, db: DatabaseConnection) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&handle, &db)).into_response()
        }),
    )
}
