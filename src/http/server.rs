//! The accept loop: connection limits, timeouts, TLS, HTTP/1.1 keep-alive and HTTP/2, and
//! graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::{service_fn, Service};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::admin::{Answer, StatsService};
use super::operations::Operations;
use super::protocol::{first_bytes, Protocol};
use super::routes::{respond, Body};
use super::stream::Stream;
use super::tls::Tls;
use crate::metrics::Metrics;
use crate::snapshot::Snapshot;

/// The limits a public server needs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time allowed to send request headers; also the idle time of a keep-alive connection.
    pub header_read_timeout: Duration,
    /// Largest request head, in bytes (larger: 431).
    pub max_header_bytes: usize,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Time in-flight responses get to finish at shutdown.
    pub shutdown_timeout: Duration,
}

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight connections finish within the shutdown timeout. With `stats`, polls are
/// recorded and the statistics are answered. With `tls`, every connection starts with a TLS
/// handshake (which must end within the header read timeout) and speaks the protocol ALPN
/// chose.
pub async fn run(
    listener: TcpListener,
    state: Arc<ArcSwap<Snapshot>>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    stats: Option<StatsService>,
    tls: Option<Tls>,
    ops: Operations,
) {
    // The protocol is known from the first bytes before a connection is handed to hyper, so
    // each protocol's own builder serves it directly.
    let h1 = http1_builder(&limits);
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .max_header_list_size(limits.max_header_bytes as u32)
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    let builders = Arc::new((h1, h2));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let _pacer = TimerPacer::start(limits.header_read_timeout);
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Usually out of file descriptors: wait for connections to close.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = connection_service(Arc::clone(&state), stats.clone(), ops.clone(), peer);
        let builders = Arc::clone(&builders);
        let watcher = graceful.watcher();
        let mut stopping = stop_rx.clone();
        let timeout = limits.header_read_timeout;
        let open = OpenConnection::new(&ops.metrics);
        if let Some(tls) = &tls {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
            tokio::spawn(async move {
                let _open = open;
                // A client that stalls the handshake is cut like one that stalls its headers.
                let handshake = tokio::select! {
                    done = tokio::time::timeout(timeout, acceptor.accept(stream)) => done,
                    _ = stopping.changed() => return,
                };
                let stream = match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "no TLS handshake within the header read timeout; closing");
                        return;
                    }
                };
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let (h1, h2_builder) = &*builders;
                let result = if h2 {
                    let io = TokioIo::new(stream);
                    watcher
                        .watch(h2_builder.serve_connection(io, service))
                        .await
                } else {
                    let io = TokioIo::new(Stream::new(stream, timeout));
                    watcher.watch(h1.serve_connection(io, service)).await
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        }
        tokio::spawn(async move {
            let _open = open;
            // The header read timeout counts from here: a client that sends nothing (or
            // dribbles the HTTP/2 preface) must not hold a permit forever.
            let mut stream = Stream::new(stream, timeout);
            let first = tokio::select! {
                first = first_bytes(&mut stream) => first,
                _ = stopping.changed() => None,
            };
            let (h1, h2) = &*builders;
            let result = match first {
                Some((Protocol::Http1, head)) => {
                    let io = TokioIo::new(stream.replaying(head));
                    watcher.watch(h1.serve_connection(io, service)).await
                }
                Some((Protocol::Http2, head)) => {
                    // HTTP/2 keeps its connections alive with its own pings.
                    let io = TokioIo::new(stream.untimed().replaying(head));
                    watcher.watch(h2.serve_connection(io, service)).await
                }
                None => {
                    tracing::debug!(%peer, "no request within the header read timeout; closing");
                    Ok(())
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.shutdown_timeout) => tracing::warn!("shutdown timeout: closing remaining connections"),
    }
}

/// The HTTP/1 settings of every connection: the largest request head, keep-alive. The
/// header read timeout (also the idle time of a keep-alive connection) is kept by the
/// connection's stream ([`Stream`]), not by hyper, which would make a timer per
/// request.
fn http1_builder(limits: &Limits) -> http1::Builder {
    let mut h1 = http1::Builder::new();
    h1.header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    h1
}

/// The service of one connection from `peer`: the statistics when they are asked for, else
/// the metrics, polite polling and the handler over the current snapshot; every answer
/// recorded and counted.
fn connection_service(
    state: Arc<ArcSwap<Snapshot>>,
    stats: Option<StatsService>,
    ops: Operations,
    peer: SocketAddr,
) -> impl Service<Request<Incoming>, Response = Response<Body>, Error = Infallible, Future = Answer>
       + Clone
       + Send
       + 'static {
    service_fn(move |request: Request<Incoming>| {
        let ops = &ops;
        let started = Instant::now();
        let (method, uri, headers) = (request.method(), request.uri(), request.headers());
        // The statistics are answered apart, reading the database on a blocking thread.
        if let Some(answer) = stats.as_ref().and_then(|s| s.answer(&request)) {
            return observed(answer, ops.clone(), &request, peer, started);
        }
        // The handler is synchronous: answer now from the current snapshot, without
        // holding a reference to it past this call.
        let now = SystemTime::now();
        let response = ops
            .metrics_answer(method, uri, headers)
            .or_else(|| ops.refuse_poll(method, uri, headers, peer, started))
            .unwrap_or_else(|| respond(&state.load(), method, uri, headers, now));
        if let Some(stats) = &stats {
            stats
                .recorder
                .observe(method, uri, headers, response.status(), peer, now);
        }
        ops.observe(
            method,
            uri,
            request.version(),
            headers,
            peer,
            &response,
            started,
            now,
        );
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(
                %peer,
                method = %method,
                path = uri.path(),
                status = response.status().as_u16(),
                "request"
            );
        }
        Answer::Ready(Some(response))
    })
}

/// Serves one HTTP/1 connection over `io` as [`run`] serves a plain connection once it
/// knows the client speaks HTTP/1: the same settings from `limits`, the same handler over
/// `state`, the same statistics and operations, with `peer` as the client. Ends when the
/// client closes the connection, breaks the protocol or stays silent past the header read
/// timeout. For a client in the same process (a test, a fuzzer) over any byte stream, such
/// as `tokio::io::duplex`.
pub async fn serve_http1<I>(
    io: I,
    state: Arc<ArcSwap<Snapshot>>,
    limits: &Limits,
    stats: Option<StatsService>,
    ops: Operations,
    peer: SocketAddr,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    http1_builder(limits)
        .serve_connection(
            TokioIo::new(Stream::new(io, limits.header_read_timeout)),
            connection_service(state, stats, ops, peer),
        )
        .await
}

/// A timer that fires every half header read timeout while the server runs.
///
/// tokio's timer driver is woken (a write to its event descriptor) whenever a timer is set
/// to fire before every other one. Each connection's deadline is set one header read timeout
/// ahead ([`Stream`]): on a server whose connections close after one request, as most
/// feed readers poll, no other connection's timer is usually left, and every connection
/// cost that wake. With this timer always nearer, a connection's deadline never is.
struct TimerPacer(tokio::task::JoinHandle<()>);

impl TimerPacer {
    fn start(timeout: Duration) -> TimerPacer {
        let period = (timeout / 2).max(Duration::from_millis(1));
        TimerPacer(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
            }
        }))
    }
}

impl Drop for TimerPacer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts a connection in the open-connections gauge for as long as it lives.
struct OpenConnection(Arc<Metrics>);

impl OpenConnection {
    fn new(metrics: &Arc<Metrics>) -> OpenConnection {
        metrics.connection_opened();
        OpenConnection(Arc::clone(metrics))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

/// `answer` (the statistics, read on a blocking thread), counted and logged once it is made.
fn observed(
    answer: Answer,
    ops: Operations,
    request: &Request<Incoming>,
    peer: SocketAddr,
    started: Instant,
) -> Answer {
    let Answer::Pending(future) = answer else {
        return answer;
    };
    let (method, uri, version, headers) = (
        request.method().clone(),
        request.uri().clone(),
        request.version(),
        request.headers().clone(),
    );
    Answer::Pending(Box::pin(async move {
        let response = future.await;
        ops.observe(
            &method,
            &uri,
            version,
            &headers,
            peer,
            &response,
            started,
            SystemTime::now(),
        );
        response
    }))
}
