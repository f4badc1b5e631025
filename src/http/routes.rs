//! The request handler: one snapshot and one request in, one response out. It never fails;
//! every outcome is a status code chosen here.

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri};

use super::conditional::{choose_encoding, evaluate, Precondition};
use crate::render::{http_date, Encoding, HeaderKey, HeaderSet, Resource, Variant};
use crate::snapshot::Snapshot;
use crate::urls::Route;

/// The response body type.
pub type Body = Full<Bytes>;

/// The longest request target (path and query) answered; longer ones get 414.
pub const MAX_URI_BYTES: usize = 4096;

/// The methods every route allows.
const ALLOW: &str = "GET, HEAD";

/// Pages may show inline styles and nothing else that could run or load.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Answers one request from `snapshot` at time `now`.
pub fn respond(
    snapshot: &Snapshot,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    now: SystemTime,
) -> Response<Body> {
    // No resource has a longer name; a longer target is refused before it is looked at.
    // (A target that does not even fit `max_header_bytes` gets 431 from hyper.)
    if uri.path().len() + uri.query().map_or(0, |q| q.len() + 1) > MAX_URI_BYTES {
        return plain(StatusCode::URI_TOO_LONG, "URI too long\n", method);
    }
    let route = Route::parse(uri.path());
    if route == Route::NotFound {
        return plain(StatusCode::NOT_FOUND, "not found\n", method);
    }
    if method != Method::GET && method != Method::HEAD {
        let status = if method == Method::OPTIONS {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::METHOD_NOT_ALLOWED
        };
        let mut response = if status == StatusCode::NO_CONTENT {
            empty(status)
        } else {
            plain(status, "method not allowed\n", method)
        };
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        return response;
    }
    let max_age = snapshot.config.cache_max_age;
    match route {
        Route::Index => serve(&snapshot.index, method, headers, now, max_age, true),
        Route::Feed(format) => serve(
            snapshot.main.get(format),
            method,
            headers,
            now,
            max_age,
            true,
        ),
        Route::Tag(slug, format) => match snapshot.tags.get(&slug) {
            Some(tag) => serve(
                tag.resources.get(format),
                method,
                headers,
                now,
                max_age,
                true,
            ),
            None => plain(StatusCode::NOT_FOUND, "no such tag\n", method),
        },
        Route::Article(id) => match snapshot.article_page(&id) {
            Some(page) => serve(&page, method, headers, now, max_age, false),
            None => plain(StatusCode::NOT_FOUND, "no such article\n", method),
        },
        Route::Archive(format, n) => match snapshot.archive_page(format, n) {
            Some(page) => serve(
                &page,
                method,
                headers,
                now,
                snapshot.config.archive_max_age,
                false,
            ),
            None => plain(StatusCode::NOT_FOUND, "no such archive page\n", method),
        },
        Route::Health => {
            let mut response = plain(StatusCode::OK, "ok\n", method);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Route::Moved(to) => {
            let location = match uri.query() {
                Some(q) => format!("{to}?{q}"),
                None => to.to_string(),
            };
            let mut response = plain(StatusCode::MOVED_PERMANENTLY, "moved\n", method);
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        Route::NotFound => plain(StatusCode::NOT_FOUND, "not found\n", method),
    }
}

/// Serves a rendered resource: negotiation, preconditions, then 200, 304, 406 or 412.
/// `reuse`: the resource outlives this request (it is part of the snapshot), so its
/// response headers are worth making once and keeping.
fn serve(
    resource: &Resource,
    method: &Method,
    headers: &HeaderMap,
    now: SystemTime,
    max_age: u64,
    reuse: bool,
) -> Response<Body> {
    let mut offered = [Encoding::Identity; 3];
    let mut count = 0;
    for encoding in resource.encodings() {
        offered[count] = encoding;
        count += 1;
    }
    let available = &offered[..count];
    let Some(encoding) = choose_encoding(headers, available) else {
        let mut response = plain(
            StatusCode::NOT_ACCEPTABLE,
            "no acceptable content coding\n",
            method,
        );
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        return response;
    };
    let Some(variant) = resource.variant(encoding) else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error\n",
            method,
        );
    };
    let decision = evaluate(headers, &variant.etag, resource.last_modified);
    let status = match decision {
        Precondition::Proceed => StatusCode::OK,
        Precondition::NotModified => StatusCode::NOT_MODIFIED,
        Precondition::Failed => {
            return plain(
                StatusCode::PRECONDITION_FAILED,
                "precondition failed\n",
                method,
            )
        }
    };
    let body = if status == StatusCode::OK && method == Method::GET {
        variant.body.clone()
    } else {
        Bytes::new()
    };
    let not_modified = status == StatusCode::NOT_MODIFIED;
    // Date is set here from the handler's clock reading: hyper's own Date comes from a cache
    // refreshed before the handler runs, and could be a second behind.
    let date = http_date(now);
    let headers = match prepared_headers(resource, encoding, not_modified, max_age, reuse) {
        Some(ready) => {
            let mut h = ready.clone();
            // Replaces the placeholder, in place: the map does not grow.
            h.insert(header::DATE, date);
            if resource.last_modified > now {
                h.insert(header::LAST_MODIFIED, http_date(now));
            }
            h
        }
        None => response_headers(
            resource,
            variant,
            encoding,
            not_modified,
            max_age,
            date,
            now,
        ),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The ready-made headers of `resource`'s `encoding` variant for this response, made on
/// first use; `None` when `reuse` is false (a resource made for this one request) or the
/// resource has changed since they were made.
fn prepared_headers(
    resource: &Resource,
    encoding: Encoding,
    not_modified: bool,
    max_age: u64,
    reuse: bool,
) -> Option<&HeaderMap> {
    if !reuse {
        return None;
    }
    let set = resource.prepared.get_or_init(|| {
        let key = HeaderKey {
            max_age,
            last_modified: resource.last_modified,
            link_header: resource.link_header.clone(),
        };
        // A placeholder, replaced per response. Last-Modified as sent once the clock has
        // passed it (the usual case, checked per response).
        let date = HeaderValue::from_static("");
        let maps = [Encoding::Identity, Encoding::Gzip, Encoding::Brotli].map(|encoding| {
            let variant = resource.variant(encoding)?;
            Some([false, true].map(|not_modified| {
                response_headers(
                    resource,
                    variant,
                    encoding,
                    not_modified,
                    max_age,
                    date.clone(),
                    resource.last_modified,
                )
            }))
        });
        HeaderSet { key, maps }
    });
    let key = &set.key;
    let current = key.max_age == max_age
        && key.last_modified == resource.last_modified
        && key.link_header == resource.link_header;
    if current {
        set.get(encoding, not_modified)
    } else {
        None
    }
}

/// The headers of a 200 (or, when `not_modified`, 304) response with `variant` of
/// `resource`, sent at `now` (whose HTTP date is `date`).
fn response_headers(
    resource: &Resource,
    variant: &Variant,
    encoding: Encoding,
    not_modified: bool,
    max_age: u64,
    date: HeaderValue,
    now: SystemTime,
) -> HeaderMap {
    let html = resource.content_type.starts_with("text/html");
    let mut h = HeaderMap::with_capacity(if html { 16 } else { 12 });
    h.insert(header::ETAG, variant.etag_header.clone());
    h.insert(header::DATE, date);
    // A Last-Modified later than the response's own date is never sent (RFC 9110 §8.8.2.1).
    h.insert(
        header::LAST_MODIFIED,
        http_date(resource.last_modified.min(now)),
    );
    h.insert(header::CACHE_CONTROL, cache_control(max_age));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(v) = resource
        .link_header
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        h.insert(header::LINK, v);
    }
    if !not_modified {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(resource.content_type),
        );
        if encoding != Encoding::Identity {
            h.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding.token()),
            );
        }
        h.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(variant.body.len()),
        );
    }
    security_headers(&mut h, html);
    h
}

/// `public, max-age=N`; the default value is not formatted anew for each response.
fn cache_control(max_age: u64) -> HeaderValue {
    match max_age {
        300 => HeaderValue::from_static("public, max-age=300"),
        86_400 => HeaderValue::from_static("public, max-age=86400"),
        n => HeaderValue::from_str(&format!("public, max-age={n}"))
            .unwrap_or_else(|_| HeaderValue::from_static("public")),
    }
}

fn security_headers(h: &mut HeaderMap, html: bool) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// A short plain-text response.
pub fn plain(status: StatusCode, text: &'static str, method: &Method) -> Response<Body> {
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(text.as_bytes())
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    security_headers(h, false);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn resource() -> Resource {
        let body = "<item>news</item>".repeat(100).into_bytes();
        let lm = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Resource {
            link_header: Some("<https://hub.example>; rel=\"hub\"".into()),
            ..Resource::new("application/rss+xml", body, lm, true)
        }
    }

    fn request(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn prepared_headers_are_those_made_per_response() {
        let r = resource();
        let now = r.last_modified + Duration::from_secs(90);
        let gzip_tag = r.gzip.as_ref().unwrap().etag.clone();
        for h in [
            request(&[]),
            request(&[("accept-encoding", "gzip")]),
            request(&[("accept-encoding", "br")]),
            request(&[("accept-encoding", "gzip"), ("if-none-match", &gzip_tag)]),
        ] {
            for method in [Method::GET, Method::HEAD] {
                let fresh = serve(&r, &method, &h, now, 300, false);
                // Twice: once making the prepared maps, once using them.
                for _ in 0..2 {
                    let reused = serve(&r, &method, &h, now, 300, true);
                    assert_eq!(reused.status(), fresh.status());
                    assert_eq!(reused.headers(), fresh.headers());
                    let order =
                        |r: &Response<Body>| r.headers().keys().cloned().collect::<Vec<_>>();
                    assert_eq!(order(&reused), order(&fresh));
                }
            }
        }
    }

    #[test]
    fn prepared_headers_follow_the_resource_and_the_clock() {
        let r = resource();
        let h = request(&[("accept-encoding", "gzip")]);
        let later = r.last_modified + Duration::from_secs(5);
        let _ = serve(&r, &Method::GET, &h, later, 300, true);
        // The clock behind Last-Modified: Last-Modified is the response's date.
        let earlier = r.last_modified - Duration::from_secs(5);
        let response = serve(&r, &Method::GET, &h, earlier, 300, true);
        assert_eq!(
            response.headers()[header::LAST_MODIFIED],
            response.headers()[header::DATE]
        );
        assert_eq!(response.headers()[header::DATE], http_date(earlier));
        // Another max-age, Link or Last-Modified than the maps were made with.
        let response = serve(&r, &Method::GET, &h, later, 60, true);
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=60"
        );
        let relinked = Resource {
            link_header: None,
            ..r.clone()
        };
        let response = serve(&relinked, &Method::GET, &h, later, 300, true);
        assert!(response.headers().get(header::LINK).is_none());
        let mut moved = r.clone();
        moved.last_modified += Duration::from_secs(2);
        let response = serve(&moved, &Method::GET, &h, later, 300, true);
        assert_eq!(
            response.headers()[header::LAST_MODIFIED],
            http_date(moved.last_modified)
        );
    }

    /// A snapshot of twelve articles, two of them tagged, with pages of five.
    fn snapshot() -> Snapshot {
        use std::path::Path;
        use std::sync::Arc;
        let config = Arc::new(
            crate::config::Config::parse(
                Path::new("t.toml"),
                "max_items = 5\narchive_page_size = 5\nbase_url = \"http://feeds.test\"",
                &crate::config::Overrides::default(),
            )
            .unwrap(),
        );
        let mut articles: Vec<Arc<crate::article::Article>> = (1..=10)
            .map(|i| {
                let text = format!("{i} May 2020\nStory {i}\n\n{}", "Body text. ".repeat(40));
                let path = format!("{i}.txt");
                Arc::new(
                    crate::article::Article::parse(Path::new(&path), &text)
                        .unwrap()
                        .article,
                )
            })
            .collect();
        for (i, id) in ["a b", "tagged"].iter().enumerate() {
            let text = format!(
                "+++\ntitle = \"Post {i}\"\ndate = 2020-06-0{}T10:00:00Z\nid = \"{id}\"\ntags = [\"Roads\"]\n+++\nBody.\n",
                i + 1
            );
            let parsed = crate::article::markdown::parse(Path::new(&format!("p{i}.md")), &text);
            articles.push(Arc::new(parsed.unwrap().article));
        }
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Snapshot::build(config, &articles, None, None, t0).unwrap()
    }

    /// Request and response rules, one row each: method, target, request headers, status,
    /// and headers the response must carry (`None`: must not carry).
    #[test]
    fn requests_get_the_status_and_headers_of_their_row() {
        let snapshot = snapshot();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let rss_tag = snapshot.main.rss.identity.etag.clone();
        let gzip_tag = snapshot.main.rss.gzip.as_ref().unwrap().etag.clone();
        let since = httpdate::fmt_http_date(now);
        type Row<'a> = (
            &'a str,
            &'a str,
            Vec<(&'static str, &'a str)>,
            u16,
            Vec<(&'static str, Option<&'a str>)>,
        );
        let rows: Vec<Row> = vec![
            (
                "GET",
                "/rss.xml",
                vec![],
                200,
                vec![
                    ("content-type", Some("application/rss+xml; charset=utf-8")),
                    ("vary", Some("accept-encoding")),
                ],
            ),
            (
                "GET",
                "/atom.xml",
                vec![],
                200,
                vec![("content-type", Some("application/atom+xml; charset=utf-8"))],
            ),
            (
                "GET",
                "/feed.json",
                vec![],
                200,
                vec![("content-type", Some("application/feed+json; charset=utf-8"))],
            ),
            (
                "HEAD",
                "/rss.xml",
                vec![],
                200,
                vec![("etag", Some(&rss_tag))],
            ),
            (
                "GET",
                "/rss.xml",
                vec![("accept-encoding", "gzip")],
                200,
                vec![
                    ("content-encoding", Some("gzip")),
                    ("etag", Some(&gzip_tag)),
                ],
            ),
            (
                "GET",
                "/rss.xml",
                vec![("accept-encoding", "br;q=0, gzip;q=0, identity")],
                200,
                vec![("content-encoding", None)],
            ),
            (
                "GET",
                "/rss.xml",
                vec![("accept-encoding", "identity;q=0")],
                406,
                vec![("vary", Some("accept-encoding"))],
            ),
            (
                "GET",
                "/rss.xml",
                vec![("if-none-match", &rss_tag)],
                304,
                vec![
                    ("etag", Some(&rss_tag)),
                    ("content-type", None),
                    ("cache-control", Some("public, max-age=300")),
                ],
            ),
            ("GET", "/rss.xml", vec![("if-none-match", "*")], 304, vec![]),
            (
                "GET",
                "/rss.xml",
                vec![
                    ("if-none-match", "\"other\""),
                    ("if-modified-since", &since),
                ],
                200,
                vec![],
            ),
            (
                "GET",
                "/rss.xml",
                vec![("if-modified-since", &since)],
                304,
                vec![],
            ),
            (
                "GET",
                "/rss.xml",
                vec![("if-match", "\"other\"")],
                412,
                vec![],
            ),
            ("GET", "/rss.xml", vec![("if-match", &rss_tag)], 200, vec![]),
            (
                "GET",
                "/",
                vec![],
                200,
                vec![
                    ("content-type", Some("text/html; charset=utf-8")),
                    ("x-content-type-options", Some("nosniff")),
                ],
            ),
            (
                "GET",
                "/articles/3",
                vec![],
                200,
                vec![("content-type", Some("text/html; charset=utf-8"))],
            ),
            ("GET", "/articles/a%20b", vec![], 200, vec![]),
            ("GET", "/articles/99", vec![], 404, vec![]),
            (
                "GET",
                "/tags/roads/atom.xml",
                vec![],
                200,
                vec![("content-type", Some("application/atom+xml; charset=utf-8"))],
            ),
            ("GET", "/tags/none/atom.xml", vec![], 404, vec![]),
            (
                "GET",
                "/archive/rss/1.xml",
                vec![],
                200,
                vec![("cache-control", Some("public, max-age=86400"))],
            ),
            ("GET", "/archive/atom/2.xml", vec![], 200, vec![]),
            ("GET", "/archive/atom/3.xml", vec![], 404, vec![]),
            (
                "GET",
                "/feed",
                vec![],
                301,
                vec![("location", Some("/rss.xml"))],
            ),
            (
                "GET",
                "/atom?x=1",
                vec![],
                301,
                vec![("location", Some("/atom.xml?x=1"))],
            ),
            (
                "GET",
                "/healthz",
                vec![],
                200,
                vec![("cache-control", Some("no-store"))],
            ),
            (
                "POST",
                "/rss.xml",
                vec![],
                405,
                vec![("allow", Some("GET, HEAD"))],
            ),
            (
                "OPTIONS",
                "/rss.xml",
                vec![],
                204,
                vec![("allow", Some("GET, HEAD"))],
            ),
            ("GET", "/nothing", vec![], 404, vec![]),
        ];
        for (method, target, request, status, expected) in rows {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let uri: Uri = target.parse().unwrap();
            let mut headers = HeaderMap::new();
            for (name, value) in &request {
                headers.append(*name, HeaderValue::from_str(value).unwrap());
            }
            let response = respond(&snapshot, &method, &uri, &headers, now);
            let row = format!("{method} {target} {request:?}");
            assert_eq!(response.status().as_u16(), status, "{row}");
            for (name, value) in expected {
                let got = response.headers().get(name).map(|v| v.to_str().unwrap());
                assert_eq!(got, value, "{row}: {name}");
            }
        }
    }
}
