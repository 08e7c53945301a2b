//! Group commit for the events of reads. Concurrent requests hand their event
//! to one appender task and wait; the task appends everything that has
//! arrived in a single transaction, commits once, then tells each request its
//! event is stored. Each response still leaves only after its own event is
//! committed, but sixty-four readers share one commit instead of queueing for
//! sixty-four.

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};

use super::chain::NewEvent;

/// Most events one commit carries.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<(), String>>;

#[derive(Clone, Debug)]
pub struct Appender {
    queue: mpsc::Sender<(NewEvent, Reply)>,
}

impl Appender {
    /// Starts the appender task on the current Tokio runtime. It appends
    /// through connections of its own (so a busy request pool never keeps
    /// events waiting), falling back to `shared` if those cannot be opened.
    pub fn start(shared: DatabaseConnection, url: String, check_idle: std::time::Duration) -> Self {
        let (queue, mut inbox) = mpsc::channel::<(NewEvent, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let db = match crate::db::connect_with(&url, 2, check_idle).await {
                Ok(own) => own,
                Err(err) => {
                    tracing::warn!(error = %err, "access-log appender shares the request pool");
                    shared
                }
            };
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while inbox.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.drain(..).unzip();
                let started = std::time::Instant::now();
                let outcome = super::record_on(&db, &events).await.map_err(|e| e.to_string());
                metrics::histogram!(crate::metrics::AUDIT_APPEND_DURATION).record(started.elapsed().as_secs_f64());
                metrics::histogram!(crate::metrics::AUDIT_APPEND_BATCH).record(events.len() as f64);
                crate::metrics::record_pool("audit_appender", &db);
                if let Err(err) = &outcome {
                    metrics::counter!(crate::metrics::AUDIT_APPEND_FAILURES).increment(1);
                    tracing::error!(error = %err, events = events.len(), "could not store access events");
                }
                for reply in replies {
                    let _ = reply.send(outcome.clone());
                }
            }
        });
        Self { queue }
    }

    /// Stores one event, sharing the commit with whatever else is waiting.
    /// Returns once the event is committed (or could not be).
    pub async fn append(&self, event: NewEvent) -> Result<(), DbErr> {
        let (reply, stored) = oneshot::channel();
        self.queue
            .send((event, reply))
            .await
            .map_err(|_| DbErr::Custom("the access-log appender has stopped".into()))?;
        stored
            .await
            .map_err(|_| DbErr::Custom("the access-log appender has stopped".into()))?
            .map_err(DbErr::Custom)
    }
}
