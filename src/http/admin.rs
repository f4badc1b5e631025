//! The statistics over HTTP: `GET /stats` (a page) and `GET /stats.json`, for the holder of
//! the admin token only, never cached. The database is read on a blocking thread, so a
//! slow read never holds up the runtime that answers feeds.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::routes::{plain, Body};
use crate::config::Secret;
use crate::render::security_headers;
use crate::stats::{report, store::Reader, Recorder};
use crate::urls::{Route, STATS_JSON_PATH, STATS_PATH};

/// What the accept loop needs for the statistics: the recorder of polls, and who may read
/// the figures (`None`: nobody, and `/stats` is 404).
#[derive(Debug, Clone)]
pub struct StatsService {
    /// Where polls go.
    pub recorder: Recorder,
    /// Who may read the figures, and where they are.
    pub admin: Option<Arc<Admin>>,
}

/// The reader side of the statistics.
#[derive(Debug)]
pub struct Admin {
    /// The bearer token.
    pub token: Secret,
    /// The database.
    pub db: PathBuf,
}

impl StatsService {
    /// The answer to `request` when it asks for the statistics and they are served.
    pub fn answer<B>(&self, request: &hyper::Request<B>) -> Option<Answer> {
        let route = match request.uri().path() {
            STATS_PATH => Route::Stats,
            STATS_JSON_PATH => Route::StatsJson,
            _ => return None,
        };
        let admin = Arc::clone(self.admin.as_ref()?);
        let method = request.method().clone();
        let headers = request.headers().clone();
        Some(Answer::Pending(Box::pin(async move {
            answer(admin, route, &method, &headers).await
        })))
    }
}

/// The future of one response: ready at once (a feed, a page), or waiting for the
/// statistics to be read.
pub enum Answer {
    /// Made by the synchronous handler; taken once.
    Ready(Option<Response<Body>>),
    /// Being made.
    Pending(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

impl Future for Answer {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            // Polled again after it completed: hyper never does; an empty 500 if it did.
            Answer::Ready(response) => Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error\n",
                    &Method::GET,
                )
            }))),
            Answer::Pending(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}

/// Whether `headers` carry `Authorization: Bearer <token>`. The digests of the two are
/// compared in constant time, so neither the token nor its length leaks through timing.
pub fn authorized(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, credentials) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credentials.trim())
        })
    else {
        return false;
    };
    let given = Sha256::digest(given.as_bytes());
    let want = Sha256::digest(token.expose());
    bool::from(given.ct_eq(&want))
}

/// Marks a statistics answer as never to be stored.
fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Answers `/stats` or `/stats.json`.
pub async fn answer(
    admin: Arc<Admin>,
    route: Route,
    method: &Method,
    headers: &HeaderMap,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n",
            method,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return no_store(response);
    }
    if !authorized(headers, &admin.token) {
        let mut response = plain(StatusCode::UNAUTHORIZED, "unauthorized\n", method);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return no_store(response);
    }
    let db = admin.db.clone();
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = Reader::open(&db).map_err(|e| e.to_string())?;
        let rows = reader
            .rows(SystemTime::now())
            .map_err(|e| format!("{}: {e}", db.display()))?;
        Ok::<_, String>(report::figures(&rows))
    })
    .await;
    let figures = match read {
        Ok(Ok(figures)) => figures,
        Ok(Err(e)) => {
            tracing::error!("statistics unavailable: {e}");
            return no_store(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "statistics unavailable\n",
                method,
            ));
        }
        Err(e) => {
            tracing::error!("statistics unavailable: {e}");
            return no_store(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error\n",
                method,
            ));
        }
    };
    let (body, content_type, html) = match route {
        Route::StatsJson => (figures.to_json(), "application/json", false),
        _ => (figures.to_html(), crate::urls::HTML_TYPE, true),
    };
    let length = body.len();
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut response = Response::new(Full::new(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    security_headers(h, html);
    no_store(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Secret {
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "admin_token = \"0123456789abcdef-secret\"",
            &crate::config::Overrides::default(),
        )
        .unwrap();
        config.stats.admin_token.unwrap()
    }

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn only_the_bearer_token_itself_is_authorized() {
        let t = token();
        assert!(authorized(&with("Bearer 0123456789abcdef-secret"), &t));
        assert!(authorized(&with("bearer   0123456789abcdef-secret "), &t));
        assert!(!authorized(&with("Bearer 0123456789abcdef-secreT"), &t));
        assert!(!authorized(
            &with("Bearer 0123456789abcdef-secret-and-more"),
            &t
        ));
        assert!(!authorized(&with("Bearer "), &t));
        assert!(!authorized(&with("Basic 0123456789abcdef-secret"), &t));
        assert!(!authorized(&with("0123456789abcdef-secret"), &t));
        assert!(!authorized(&HeaderMap::new(), &t));
        assert_eq!(format!("{t:?}"), "Secret(..)");
    }
}
