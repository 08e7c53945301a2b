//! Serving the router on a TCP listener, and stopping without losing work.
//!
//! Tandem runs its own accept loop on hyper rather than `axum::serve` for
//! two things the latter does not offer:
//! - a limit on how long a client may take to send a request's headers, so a
//!   slow or stalled client cannot hold a connection open forever;
//! - a shutdown that waits for *requests*, not connections: a connection that
//!   is idle or still sending its headers carries no work and does not hold
//!   the process up, while a request being answered gets the grace period and,
//!   if it has to be abandoned, the process says so and exits non-zero.
//!
//! The order on shutdown: readiness turns 503 (the caller's `draining`
//! hook) while requests are still served, for `drain`; then no new
//! connections are accepted and open ones are told to close after their
//! current request; then in-flight requests get `grace` to finish.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, Request},
    response::Response,
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Notify};
use tower::ServiceExt;

/// How long a client may take to send a request's line and headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request that had started was answered.
    Clean,
    /// The grace period ran out with this many requests still being answered.
    Abandoned(usize),
}

/// Serves `router` on `listener` until `shutdown` completes, then drains
/// as described in the module documentation.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    draining: impl FnOnce(),
    drain: Duration,
    grace: Duration,
) -> Stopped {
    let in_flight = InFlight::default();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = GracefulShutdown::new();

    let stop_accepting = async {
        shutdown.await;
        draining();
        tracing::info!(drain_seconds = drain.as_secs(), "shutting down: reporting not ready");
        tokio::time::sleep(drain).await;
    };
    tokio::pin!(stop_accepting);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut stop_accepting => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Responses go out as soon as they are written, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(per_connection(router.clone(), remote, in_flight.clone()));
        let connection = connections.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away or breaks the protocol ends only its
            // own connection; hyper has already answered what it could.
            let _ = connection.await;
        });
    }
    drop(listener);
    tracing::info!(grace_seconds = grace.as_secs(), "shutting down: finishing in-flight requests");

    // Open connections finish their current request and close; a connection
    // with no request under way closes now.
    let closed = connections.shutdown();
    tokio::select! {
        () = closed => Stopped::Clean,
        () = in_flight.none_left() => Stopped::Clean,
        () = tokio::time::sleep(grace) => match in_flight.count() {
            0 => Stopped::Clean,
            open => Stopped::Abandoned(open),
        },
    }
}

/// The router as one connection sees it: with the peer's address for the
/// extractors that need it, and each request counted until its response
/// body has been sent.
fn per_connection(
    router: Router,
    remote: SocketAddr,
    in_flight: InFlight,
) -> impl tower::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response, std::convert::Infallible>> + Send,
> + Clone {
    tower::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let mut request: Request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        let started = in_flight.start();
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await?;
            Ok(response.map(|body| Body::new(Counted { body, _request: started })))
        }
    })
}

/// Requests under way: started and not yet fully answered.
#[derive(Clone, Default)]
struct InFlight(Arc<InFlightInner>);

#[derive(Default)]
struct InFlightInner {
    count: AtomicUsize,
    changed: Notify,
}

impl InFlight {
    fn start(&self) -> Started {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        Started(self.0.clone())
    }

    fn count(&self) -> usize {
        self.0.count.load(Ordering::SeqCst)
    }

    async fn none_left(&self) {
        loop {
            let changed = self.0.changed.notified();
            if self.count() == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// One request under way; dropping it (when the response body ends, or the
/// connection is gone) counts it done.
struct Started(Arc<InFlightInner>);

impl Drop for Started {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// A response body that keeps its request counted until it is sent.
struct Counted {
    body: Body,
    _request: Started,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_counts_until_its_body_is_dropped() {
        let in_flight = InFlight::default();
        let started = in_flight.start();
        let body = Counted { body: Body::from("x"), _request: started };
        assert_eq!(in_flight.count(), 1);
        let waiting = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.none_left().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(body);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert_eq!(in_flight.count(), 0);
    }
}
