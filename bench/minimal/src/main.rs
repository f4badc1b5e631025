//! The baseline of `bench/serve.sh`: a minimal hyper 1 server that answers every GET with
//! one file's bytes held in memory, with roughly the headers feedpub sends.
//!
//! Usage: `feedpub-bench-minimal ADDR FILE [FILE.gz]` (`--auto` as first argument: use
//! hyper-util's HTTP/1+HTTP/2 auto builder, instead of plain HTTP/1; feedpub itself peeks at the first
//! bytes and hands the connection to the HTTP/1 or HTTP/2 builder).
//!
//! - `Accept-Encoding` containing `gzip` and a FILE.gz given: the gzip bytes.
//! - `If-None-Match` equal to the variant's ETag: 304.
//!
//! The runtime is tokio's multi-thread runtime, like feedpub's, so `TOKIO_WORKER_THREADS=1`
//! gives both servers the same single worker.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

struct Variant {
    body: Bytes,
    etag: HeaderValue,
}

struct State {
    identity: Variant,
    gzip: Option<Variant>,
    last_modified: HeaderValue,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn handle(state: &State, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let wants_gzip = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let (variant, gzip) = match (&state.gzip, wants_gzip) {
        (Some(g), true) => (g, true),
        _ => (&state.identity, false),
    };
    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == variant.etag);
    let body = if not_modified {
        Bytes::new()
    } else {
        variant.body.clone()
    };
    let mut response = Response::new(Full::new(body));
    let h = response.headers_mut();
    h.insert(header::ETAG, variant.etag.clone());
    h.insert(header::LAST_MODIFIED, state.last_modified.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if not_modified {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    } else {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/rss+xml; charset=utf-8"),
        );
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    response
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let auto = args.first().is_some_and(|a| a == "--auto");
    if auto {
        args.remove(0);
    }
    if args.len() < 2 {
        eprintln!("usage: feedpub-bench-minimal [--auto] ADDR FILE [FILE.gz]");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[0].parse().expect("ADDR such as 127.0.0.1:8081");
    let read = |path: &str| Bytes::from(std::fs::read(path).expect("readable file"));
    let identity = read(&args[1]);
    let tag = format!("{:016x}", fnv1a(&identity));
    let state = Arc::new(State {
        identity: Variant {
            body: identity,
            etag: HeaderValue::from_str(&format!("\"{tag}\"")).unwrap(),
        },
        gzip: args.get(2).map(|p| Variant {
            body: read(p),
            etag: HeaderValue::from_str(&format!("\"{tag}-gzip\"")).unwrap(),
        }),
        last_modified: HeaderValue::from_static("Mon, 01 Jan 2024 00:00:00 GMT"),
    });
    let listener = TcpListener::bind(addr).await.expect("bindable address");
    println!("minimal is serving on http://{addr}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let service = service_fn(move |request: Request<Incoming>| {
            let response = handle(&state, &request);
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            if auto {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(io, service)
                    .await;
            } else {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            }
        });
    }
}
