//! What the server does around each answer besides making it: the access log, the metrics
//! (and `GET /metrics` itself), and polite polling. Everything here is cheap on the request
//! path: counters, a bounded queue, one hash-map lookup when polite polling is on.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri, Version};
use ipnet::IpNet;

use super::access_log::{AccessLog, Response as LoggedResponse};
use super::admin::authorized;
use super::polite::{PolitePolling, Verdict};
use super::routes::{plain, Body};
use crate::config::Secret;
use crate::metrics::Metrics;
use crate::render::security_headers;
use crate::stats::{client_address, is_poll_route};
use crate::urls::{Route, METRICS_PATH};

/// The server's operational parts, shared by every connection.
#[derive(Debug, Clone)]
pub struct Operations {
    /// Counters and histograms, answered at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Who may read `/metrics` (`None`: nobody, and it is 404).
    pub metrics_token: Option<Arc<Secret>>,
    /// The access log, when configured.
    pub access_log: Option<AccessLog>,
    /// Polite polling, when `min_poll_interval_secs` is set.
    pub polite: Option<Arc<PolitePolling>>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The configured WebSub hubs (their fetches are never refused).
    pub hubs: Arc<[String]>,
}

impl Default for Operations {
    fn default() -> Self {
        Operations {
            metrics: Arc::new(Metrics::new()),
            metrics_token: None,
            access_log: None,
            polite: None,
            trusted_proxies: Arc::from(Vec::new()),
            hubs: Arc::from(Vec::new()),
        }
    }
}

/// `X-Forwarded-For`, made once.
const X_FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");

/// The route family of a request path, for the metrics' `route` label, without parsing it
/// (no allocation): the status code tells a 404 from a page.
pub fn family_of_path(path: &str) -> &'static str {
    match path {
        "/" => "index",
        "/rss.xml" | "/atom.xml" | "/feed.json" => "feed",
        "/feeds.opml" => "opml",
        "/healthz" => "health",
        "/stats" | "/stats.json" => "stats",
        METRICS_PATH => "metrics",
        _ if path.starts_with("/tags/") => "tag_feed",
        _ if path.starts_with("/lang/") => "language_feed",
        _ if path.starts_with("/articles/") => "article",
        _ if path.starts_with("/archive/") && path.ends_with(".html") => "history",
        _ if path.starts_with("/archive/") => "archive",
        _ => "other",
    }
}

fn version_text(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

impl Operations {
    /// The client of a request from `peer`: the peer, or the address a trusted proxy forwards.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        // Without trusted proxies the header is never read: looking it up by name cost
        // 380 instructions of a 304 (callgrind).
        let forwarded = if self.trusted_proxies.is_empty() {
            None
        } else {
            headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok())
        };
        client_address(peer.ip(), forwarded, &self.trusted_proxies)
    }

    /// The answer to `GET /metrics`, when that is what is asked: 404 without an
    /// `admin_token`, 401 with `WWW-Authenticate: Bearer` without the right one, else the
    /// exposition; never cached.
    pub fn metrics_answer(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<Response<Body>> {
        if uri.path() != METRICS_PATH {
            return None;
        }
        let mut response = match &self.metrics_token {
            None => plain(StatusCode::NOT_FOUND, "not found\n", method),
            Some(_) if method != Method::GET && method != Method::HEAD => {
                let mut r = plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed\n",
                    method,
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                r
            }
            Some(token) if !authorized(headers, token) => {
                let mut r = plain(StatusCode::UNAUTHORIZED, "unauthorized\n", method);
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            Some(_) => {
                if let Some(log) = &self.access_log {
                    self.metrics.dropped_log_lines(log.take_dropped());
                }
                let text = self.metrics.encode();
                let length = text.len();
                let body = if method == Method::HEAD {
                    Bytes::new()
                } else {
                    Bytes::from(text)
                };
                let mut r = Response::new(Full::new(body));
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
                security_headers(h, false);
                r
            }
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Some(response)
    }

    /// The 429 for an unconditional `GET` of a feed that came too soon after the same
    /// client's last one; `None` to answer it. Conditional requests and hubs always pass.
    pub fn refuse_poll(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        peer: SocketAddr,
        now: Instant,
    ) -> Option<Response<Body>> {
        let polite = self.polite.as_ref()?;
        if method != Method::GET
            || headers.contains_key(header::IF_NONE_MATCH)
            || headers.contains_key(header::IF_MODIFIED_SINCE)
            || !is_poll_route(&Route::parse(uri.path()))
        {
            return None;
        }
        let agent = headers
            .get(header::USER_AGENT)
            .map_or(&[][..], HeaderValue::as_bytes);
        if PolitePolling::is_hub(agent, &self.hubs) {
            return None;
        }
        let client = self.client(peer, headers);
        let Verdict::Refuse { retry_after } =
            polite.unconditional_poll(client, agent, uri.path(), now)
        else {
            return None;
        };
        self.metrics.refused_poll();
        let mut response = plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests: poll less often, or send the ETag back in If-None-Match (a 304 is never refused)\n",
            method,
        );
        let h = response.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Some(response)
    }

    /// Counts a response and writes its access-log line. `started` is when the request's
    /// head arrived; `time` its wall-clock time.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &self,
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
        peer: SocketAddr,
        response: &Response<Body>,
        started: Instant,
        time: SystemTime,
    ) {
        let status = response.status().as_u16();
        let bytes = response.body().size_hint().exact().unwrap_or(0);
        let encoding = match response.headers().get(header::CONTENT_ENCODING) {
            Some(v) if v == "gzip" => "gzip",
            Some(v) if v == "br" => "br",
            Some(_) => "other",
            None if bytes == 0 => "none",
            None => "identity",
        };
        self.metrics.response(
            family_of_path(uri.path()),
            status,
            encoding,
            started.elapsed().as_secs_f64(),
        );
        if let Some(log) = &self.access_log {
            // One pass over the few headers instead of two hashed lookups.
            let (mut referer, mut user_agent) = (None, None);
            for (name, value) in headers {
                if *name == header::USER_AGENT {
                    user_agent = user_agent.or(Some(value.as_bytes()));
                } else if *name == header::REFERER {
                    referer = referer.or(Some(value.as_bytes()));
                }
            }
            log.record(&LoggedResponse {
                client: self.client(peer, headers),
                time,
                method: method.as_str(),
                target: uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
                version: version_text(version),
                status,
                bytes,
                referer,
                user_agent,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_families_come_from_the_path_alone() {
        for (path, family) in [
            ("/", "index"),
            ("/rss.xml", "feed"),
            ("/tags/traffic/atom.xml", "tag_feed"),
            ("/lang/fa/feed.json", "language_feed"),
            ("/archive/rss/3.xml", "archive"),
            ("/archive/3.html", "history"),
            ("/articles/1.html", "article"),
            ("/metrics", "metrics"),
            ("/wp-login.php", "other"),
        ] {
            assert_eq!(family_of_path(path), family, "{path}");
        }
    }
}
