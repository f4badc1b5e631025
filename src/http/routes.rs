//! The request handler: one snapshot and one request in, one response out. It never fails;
//! every outcome is a status code chosen here.

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri};

use super::conditional::{choose_encoding, evaluate, Precondition};
use crate::render::{cors_headers, http_date, security_headers, Encoding, Resource};
use crate::snapshot::Snapshot;
use crate::urls::{article_path, Route};

/// The response body type.
pub type Body = Full<Bytes>;

/// The longest request target (path and query) answered; longer ones get 414.
pub const MAX_URI_BYTES: usize = 4096;

/// The methods every route allows.
const ALLOW: &str = "GET, HEAD";

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
    let config = &snapshot.config;
    // Configured moves come first: they name paths feedpub does not serve otherwise.
    if let Some(to) = config.redirects.get(uri.path()) {
        return moved_to(&config.url(to), method);
    }
    if config.gone.contains(uri.path()) {
        let mut response = plain(
            StatusCode::GONE,
            "gone: this feed is retired; please unsubscribe\n",
            method,
        );
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        );
        return response;
    }
    let route = Route::parse(uri.path());
    if route == Route::NotFound {
        return plain(StatusCode::NOT_FOUND, "not found\n", method);
    }
    // The statistics are answered by `http::admin` when they are served at all.
    if matches!(route, Route::Stats | Route::StatsJson) {
        return plain(StatusCode::NOT_FOUND, "not found\n", method);
    }
    if method != Method::GET && method != Method::HEAD {
        return if method == Method::OPTIONS {
            preflight()
        } else {
            let mut response = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed\n",
                method,
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
            response
        };
    }
    match route {
        Route::Index
        | Route::Feed(_)
        | Route::Tag(..)
        | Route::Language(..)
        | Route::Opml
        | Route::Article(_)
        | Route::Archive(..)
        | Route::History(_) => {
            // The same resource `publish` writes for this route.
            match snapshot.resource(&route) {
                Some(resource) => serve(&resource, method, headers, now),
                None => {
                    let text = match route {
                        Route::Tag(..) => "no such tag\n",
                        Route::Language(..) => "no articles in this language\n",
                        Route::Article(_) => "no such article\n",
                        Route::Archive(..) | Route::History(_) => "no such archive page\n",
                        _ => "not found\n",
                    };
                    plain(StatusCode::NOT_FOUND, text, method)
                }
            }
        }
        Route::Health => {
            let mut response = plain(StatusCode::OK, "ok\n", method);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Route::Moved(to) => moved(to, uri, method),
        // Links handed out before article links named the page's file keep working.
        Route::OldArticle(id) if snapshot.articles.contains_key(&id) => {
            moved(&article_path(&id), uri, method)
        }
        Route::OldArticle(_) => plain(StatusCode::NOT_FOUND, "no such article\n", method),
        Route::NotFound => plain(StatusCode::NOT_FOUND, "not found\n", method),
        Route::Stats | Route::StatsJson => plain(StatusCode::NOT_FOUND, "not found\n", method),
    }
}

/// Serves a rendered resource: negotiation, preconditions, then 200, 304, 406 or 412. The
/// headers were made with the resource; only `Date` (and a `Last-Modified` the clock has
/// not reached) is set here.
fn serve(
    resource: &Resource,
    method: &Method,
    headers: &HeaderMap,
    now: SystemTime,
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
    let decision = evaluate(headers, &variant.etag, resource.last_modified());
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
    let Some(made) = resource.headers(encoding, not_modified) else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error\n",
            method,
        );
    };
    let mut h = made.clone();
    // Date is set here from the handler's clock reading: hyper's own Date comes from a cache
    // refreshed before the handler runs, and could be a second behind.
    h.insert(header::DATE, http_date(now));
    // A Last-Modified later than the response's own date is never sent (RFC 9110 §8.8.2.1).
    if resource.last_modified() > now {
        h.insert(header::LAST_MODIFIED, http_date(now));
    }
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = h;
    response
}

/// The answer to `OPTIONS`: 204 with the methods, and the CORS preflight a script on
/// another origin needs before a conditional request (`If-None-Match` is not a header
/// browsers send across origins without asking).
fn preflight() -> Response<Body> {
    let mut response = empty(StatusCode::NO_CONTENT);
    let h = response.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("If-None-Match, If-Modified-Since, Cache-Control"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    cors_headers(h);
    response
}

/// 301 to the absolute URL `location`, preserving nothing of the request (a configured
/// redirect names exactly where the feed now is).
fn moved_to(location: &str, method: &Method) -> Response<Body> {
    let mut response = plain(StatusCode::MOVED_PERMANENTLY, "moved\n", method);
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// 301 to `to`, with the request's query.
fn moved(to: &str, uri: &Uri, method: &Method) -> Response<Body> {
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
    use crate::render::Policy;
    use std::time::{Duration, UNIX_EPOCH};

    fn resource() -> Resource {
        let body = "<item>news</item>".repeat(100).into_bytes();
        let lm = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let policy = Policy {
            max_age: 300,
            link: Some("<https://hub.example>; rel=\"hub\"".into()),
            ..Policy::default()
        };
        Resource::new("application/rss+xml", body, lm, true, policy)
    }

    fn request(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn headers_are_made_with_the_resource_and_follow_its_date_and_policy() {
        let r = resource();
        let gzip = request(&[("accept-encoding", "gzip")]);
        let later = r.last_modified() + Duration::from_secs(5);
        let ok = serve(&r, &Method::GET, &gzip, later);
        let h = ok.headers();
        assert_eq!(h[header::CONTENT_ENCODING], "gzip");
        assert_eq!(
            h[header::CONTENT_LENGTH],
            r.gzip.as_ref().unwrap().body.len().to_string()
        );
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=300");
        assert_eq!(h[header::LINK], "<https://hub.example>; rel=\"hub\"");
        assert_eq!(h[header::DATE], http_date(later));
        assert_eq!(h[header::LAST_MODIFIED], http_date(r.last_modified()));
        let tag = r.gzip.as_ref().unwrap().etag.clone();
        let revalidated = serve(
            &r,
            &Method::GET,
            &request(&[("accept-encoding", "gzip"), ("if-none-match", &tag)]),
            later,
        );
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        assert!(revalidated.headers().get(header::CONTENT_TYPE).is_none());
        assert_eq!(revalidated.headers()[header::ETAG], tag.as_str());
        // The clock behind Last-Modified: Last-Modified is the response's date.
        let earlier = r.last_modified() - Duration::from_secs(5);
        let response = serve(&r, &Method::GET, &gzip, earlier);
        assert_eq!(
            response.headers()[header::LAST_MODIFIED],
            http_date(earlier)
        );
        // Another policy, another date: the headers are made again.
        let calmer = r.clone().with_policy(Policy {
            max_age: 60,
            stale_while_revalidate: 30,
            stale_if_error: 600,
            link: None,
        });
        let response = serve(&calmer, &Method::GET, &gzip, later);
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=60, stale-while-revalidate=30, stale-if-error=600"
        );
        assert!(response.headers().get(header::LINK).is_none());
        let mut moved = r.clone();
        moved.set_last_modified(r.last_modified() + Duration::from_secs(2));
        let response = serve(&moved, &Method::GET, &gzip, later);
        assert_eq!(
            response.headers()[header::LAST_MODIFIED],
            http_date(moved.last_modified())
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
                    (
                        "cache-control",
                        Some(
                            "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400",
                        ),
                    ),
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
                "/articles/3.html",
                vec![],
                200,
                vec![("content-type", Some("text/html; charset=utf-8"))],
            ),
            ("GET", "/articles/a%20b.html", vec![], 200, vec![]),
            ("GET", "/articles/99.html", vec![], 404, vec![]),
            (
                "GET",
                "/articles/3",
                vec![],
                301,
                vec![("location", Some("/articles/3.html"))],
            ),
            (
                "HEAD",
                "/articles/a%20b?x=1",
                vec![],
                301,
                vec![("location", Some("/articles/a%20b.html?x=1"))],
            ),
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
                vec![(
                    "cache-control",
                    Some("public, max-age=86400, stale-while-revalidate=60, stale-if-error=86400"),
                )],
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
