//! Rendered resources: bytes with their compressed variants and validators, computed once
//! per generation and then only cloned (cheaply: [`Bytes`] is reference counted) per request.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// A content coding feedpub can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// Brotli (RFC 7932).
    Brotli,
}

impl Encoding {
    /// The token of the coding in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
        }
    }
}

/// One encoding of a resource's bytes, with its strong entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The bytes as sent.
    pub body: Bytes,
    /// The strong `ETag`, quotes included.
    pub etag: String,
    /// The same tag as a ready header value, so that no response copies it.
    pub etag_header: HeaderValue,
}

impl Variant {
    fn new(body: Bytes, etag: String) -> Variant {
        // A tag made of hex digits and a coding name is always a valid header value.
        let etag_header =
            HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
        Variant {
            body,
            etag,
            etag_header,
        }
    }
}

/// What a resource's responses say besides its bytes and validators: how long caches may
/// keep it, and a `Link` header (WebSub `rel="hub"` and `rel="self"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The `Cache-Control` max-age, in seconds.
    pub max_age: u64,
    /// `stale-while-revalidate`, in seconds; 0 leaves it out.
    pub stale_while_revalidate: u64,
    /// `stale-if-error`, in seconds; 0 leaves it out.
    pub stale_if_error: u64,
    /// A `Link` header to send with it.
    pub link: Option<String>,
}

impl Policy {
    /// The `Cache-Control` value: `public, max-age=N`, then the stale directives that are
    /// set (RFC 5861), which let a cache in front answer while it revalidates, or while the
    /// origin is down or restarting.
    pub fn cache_control(&self) -> String {
        cache_control_text(
            self.max_age,
            self.stale_while_revalidate,
            self.stale_if_error,
        )
    }
}

/// `public, max-age=N[, stale-while-revalidate=N][, stale-if-error=N]`: what every feed and
/// page says, here and in the static hosts' files.
pub fn cache_control_text(
    max_age: u64,
    stale_while_revalidate: u64,
    stale_if_error: u64,
) -> String {
    let mut value = format!("public, max-age={max_age}");
    if stale_while_revalidate > 0 {
        value.push_str(&format!(
            ", stale-while-revalidate={stale_while_revalidate}"
        ));
    }
    if stale_if_error > 0 {
        value.push_str(&format!(", stale-if-error={stale_if_error}"));
    }
    value
}

/// A resource ready to be served: identity, gzip and brotli bodies, validators, type, and
/// the response headers of each variant, made with the resource. What the headers are made
/// from can only be changed through methods that make them again, so a response never
/// checks whether they are current.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The uncompressed body.
    pub identity: Variant,
    /// The gzip body, when compression pays off.
    pub gzip: Option<Variant>,
    /// The brotli body, when compression pays off.
    pub brotli: Option<Variant>,
    /// SHA-256 of the identity body.
    pub digest: [u8; 32],
    /// When these bytes were first served. Never earlier than the previous generation's bytes.
    last_modified: SystemTime,
    policy: Policy,
    /// For [`Encoding::Identity`], [`Encoding::Gzip`], [`Encoding::Brotli`] (in that order):
    /// the headers of a 200 and of a 304 response, with a placeholder `Date`; `None` where
    /// the resource has no such variant. Shared by clones.
    headers: Arc<[Option<[HeaderMap; 2]>; 3]>,
}

/// Pages may show inline styles and nothing else that could run or load.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `Access-Control-Expose-Headers` of every feed and page: what a script on another origin
/// needs to poll politely. The feeds are public and use no cookies, so any origin may read
/// them (`Access-Control-Allow-Origin: *`).
pub const CORS_EXPOSE: &str = "ETag, Last-Modified, Link";

/// The CORS headers of every feed and page, on 200 and 304 alike.
pub fn cors_headers(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CORS_EXPOSE),
    );
}

/// The headers every response carries, and those of HTML pages.
pub fn security_headers(h: &mut HeaderMap, html: bool) {
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

/// The `Cache-Control` header of `policy` (made once per resource).
fn cache_control(policy: &Policy) -> HeaderValue {
    // Digits, commas and letters only: always a valid header value.
    HeaderValue::from_str(&policy.cache_control())
        .unwrap_or_else(|_| HeaderValue::from_static("public"))
}

/// Bodies smaller than this are not worth compressing.
const MIN_COMPRESS: usize = 256;

impl Resource {
    /// Renders `body`: hashes it and, if `compress`, makes the gzip and brotli variants.
    /// The entity tags derive from the identity bytes only, so every replica and every
    /// restart gives the same tags for the same content.
    pub fn new(
        content_type: &'static str,
        body: Vec<u8>,
        last_modified: SystemTime,
        compress: bool,
        policy: Policy,
    ) -> Resource {
        let digest = Resource::digest_of(&body);
        let tag = hex(&digest[..16]);
        let (gzip, brotli) = if compress && body.len() >= MIN_COMPRESS {
            let (gzip, brotli) = compressed_variants(&body, &tag);
            (Some(gzip), Some(brotli))
        } else {
            (None, None)
        };
        let mut resource = Resource {
            content_type,
            identity: Variant::new(Bytes::from(body), format!("\"{tag}\"")),
            gzip,
            brotli,
            digest,
            last_modified,
            policy,
            headers: Arc::default(),
        };
        resource.make_headers();
        resource
    }

    /// Whether the body is worth compressing and has no compressed variants yet: a resource
    /// made with `compress` false, served as identity until [`Resource::compressed`] gives
    /// its variants.
    pub fn pending(&self) -> bool {
        self.gzip.is_none() && self.identity.body.len() >= MIN_COMPRESS
    }

    /// This resource with its compressed variants (itself when it has them, or is too small
    /// to gain): the same body, validators and policy.
    pub fn compressed(&self) -> Resource {
        if !self.pending() {
            return self.clone();
        }
        let (gzip, brotli) = compressed_variants(&self.identity.body, &hex(&self.digest[..16]));
        let mut resource = Resource {
            gzip: Some(gzip),
            brotli: Some(brotli),
            headers: Arc::default(),
            ..self.clone()
        };
        resource.make_headers();
        resource
    }

    /// When these bytes were first served.
    pub fn last_modified(&self) -> SystemTime {
        self.last_modified
    }

    /// How the resource may be cached, and its `Link` header.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Dates the resource at `time`, and makes its headers again.
    pub fn set_last_modified(&mut self, time: SystemTime) {
        if self.last_modified != time {
            self.last_modified = time;
            self.make_headers();
        }
    }

    /// The resource under `policy`; its headers are made again only when that changes them.
    pub fn with_policy(mut self, policy: Policy) -> Resource {
        if self.policy != policy {
            self.policy = policy;
            self.make_headers();
        }
        self
    }

    /// The headers of a 200 (or, when `not_modified`, 304) response with the `encoding`
    /// variant, with a placeholder `Date` to be replaced; `None` when there is no such
    /// variant. `Last-Modified` is as made: a response sent before it replaces it.
    pub fn headers(&self, encoding: Encoding, not_modified: bool) -> Option<&HeaderMap> {
        let index = match encoding {
            Encoding::Identity => 0,
            Encoding::Gzip => 1,
            Encoding::Brotli => 2,
        };
        self.headers[index]
            .as_ref()
            .map(|pair| &pair[usize::from(not_modified)])
    }

    fn make_headers(&mut self) {
        let maps = [Encoding::Identity, Encoding::Gzip, Encoding::Brotli].map(|encoding| {
            let variant = self.variant(encoding)?;
            Some(
                [false, true]
                    .map(|not_modified| self.response_headers(variant, encoding, not_modified)),
            )
        });
        self.headers = Arc::new(maps);
    }

    /// The headers of a 200 (or, when `not_modified`, 304) response with `variant`.
    fn response_headers(
        &self,
        variant: &Variant,
        encoding: Encoding,
        not_modified: bool,
    ) -> HeaderMap {
        let html = self.content_type.starts_with("text/html");
        let mut h = HeaderMap::with_capacity(if html { 16 } else { 14 });
        h.insert(header::ETAG, variant.etag_header.clone());
        // A placeholder, replaced per response, in place: the map does not grow.
        h.insert(header::DATE, HeaderValue::from_static(""));
        h.insert(header::LAST_MODIFIED, http_date(self.last_modified));
        h.insert(header::CACHE_CONTROL, cache_control(&self.policy));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(v) = self
            .policy
            .link
            .as_deref()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            h.insert(header::LINK, v);
        }
        if !not_modified {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
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
        cors_headers(&mut h);
        h
    }

    /// The SHA-256 of `body`, as in [`Resource::digest`].
    pub fn digest_of(body: &[u8]) -> [u8; 32] {
        Sha256::digest(body).into()
    }

    /// The variant for `encoding`, if this resource has one.
    pub fn variant(&self, encoding: Encoding) -> Option<&Variant> {
        match encoding {
            Encoding::Identity => Some(&self.identity),
            Encoding::Gzip => self.gzip.as_ref(),
            Encoding::Brotli => self.brotli.as_ref(),
        }
    }

    /// The encodings this resource offers, best first.
    pub fn encodings(&self) -> impl Iterator<Item = Encoding> + '_ {
        [Encoding::Brotli, Encoding::Gzip, Encoding::Identity]
            .into_iter()
            .filter(|e| self.variant(*e).is_some())
    }
}

/// The `Last-Modified` time of bytes with `digest`, rendered at `now`, that replace a
/// resource `previous`: unchanged bytes keep their time; changed bytes get a time later
/// (by at least one second, the resolution of HTTP dates) than the previous one.
pub fn next_last_modified(
    previous: Option<(&[u8; 32], SystemTime)>,
    digest: &[u8; 32],
    now: SystemTime,
) -> SystemTime {
    let now = truncate_to_second(now);
    match previous {
        Some((old, time)) if old == digest => time,
        Some((_, time)) => now.max(truncate_to_second(time) + Duration::from_secs(1)),
        None => now,
    }
}

/// `t` as an HTTP date header value. The value of the current second is remembered per
/// thread, so that answering many requests in one second formats the date once.
pub fn http_date(t: SystemTime) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<[(u64, Option<HeaderValue>); 2]> = const { std::cell::RefCell::new([(0, None), (0, None)]) };
    }
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    LAST.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, Some(v))) = cache.iter().find(|(s, v)| *s == secs && v.is_some()) {
            return v.clone();
        }
        let value = HeaderValue::from_str(&httpdate::fmt_http_date(t))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        // Keep the newest two seconds (typically Date and a Last-Modified).
        let slot = if cache[0].0 <= cache[1].0 { 0 } else { 1 };
        cache[slot] = (secs, Some(value.clone()));
        value
    })
}

/// Drops the sub-second part of a time, as HTTP dates do.
pub fn truncate_to_second(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => UNIX_EPOCH,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The gzip and brotli variants of `body`, whose identity ETag is `"tag"`: each tagged
/// `"tag-CODING"`. Both encoders run at once: compression is most of the time a new
/// document waits for.
fn compressed_variants(body: &[u8], tag: &str) -> (Variant, Variant) {
    let variant = |encoding: Encoding, bytes: Vec<u8>| {
        Variant::new(
            Bytes::from(bytes),
            format!("\"{tag}-{}\"", encoding.token()),
        )
    };
    let (gzip, brotli) = rayon::join(|| gzip(body), || brotli(body));
    (
        variant(Encoding::Gzip, gzip),
        variant(Encoding::Brotli, brotli),
    )
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::best(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 3);
    // Quality 5 is about ten times faster than 9 on a 100 KB feed for 1-2% more bytes; it
    // runs on the regeneration path, before a new feed can be served.
    // A window as large as the body finds every match that a larger one would, without
    // clearing megabytes of ring buffer for a small feed; but never under 2^17: at 2^16 the
    // encoder picks its "forgetful chain" hasher (types 40-42), whose 7 MB of tables are
    // zeroed for every body: 6.7 ms for a 5 KB page against 0.15 ms at 2^17, whose output is
    // 1% smaller (`cargo bench -- Resource::new/page`).
    let lgwin = (usize::BITS - body.len().leading_zeros()).clamp(17, 22) as i32;
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin,
        ..Default::default()
    };
    // Reading from a slice and writing to a Vec cannot fail.
    let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_resource_made_uncompressed_gets_the_variants_it_would_have_had() {
        let body = "<p>feed</p>".repeat(200).into_bytes();
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let plain = Resource::new("text/html", body.clone(), at, false, Policy::default());
        assert!(plain.pending());
        assert!(plain.gzip.is_none() && plain.brotli.is_none());
        let later = plain.compressed();
        let now = Resource::new("text/html", body, at, true, Policy::default());
        assert!(!later.pending());
        for (a, b) in [(&later.gzip, &now.gzip), (&later.brotli, &now.brotli)] {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            assert_eq!((&a.body, &a.etag), (&b.body, &b.etag));
        }
        assert_eq!(later.identity.etag, plain.identity.etag);
        assert_eq!(later.last_modified(), at);
        let tiny = Resource::new(
            "text/html",
            b"<p>x</p>".to_vec(),
            at,
            false,
            Policy::default(),
        );
        assert!(!tiny.pending(), "too small to gain from compression");
    }

    #[test]
    fn compressed_variants_decompress_to_the_body_and_have_own_tags() {
        let body = "<p>feed</p>".repeat(200).into_bytes();
        let r = Resource::new(
            "text/html",
            body.clone(),
            UNIX_EPOCH,
            true,
            Policy::default(),
        );
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&r.gzip.as_ref().unwrap().body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let mut out = Vec::new();
        brotli::Decompressor::new(&r.brotli.as_ref().unwrap().body[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let tags = [
            &r.identity.etag,
            &r.gzip.as_ref().unwrap().etag,
            &r.brotli.as_ref().unwrap().etag,
        ];
        assert_ne!(tags[0], tags[1]);
        assert_ne!(tags[1], tags[2]);
        assert_eq!(
            Resource::new("text/html", body, UNIX_EPOCH, true, Policy::default())
                .identity
                .etag,
            *tags[0]
        );
    }

    #[test]
    fn tiny_bodies_are_not_compressed() {
        let r = Resource::new(
            "text/plain",
            b"ok\n".to_vec(),
            UNIX_EPOCH,
            true,
            Policy::default(),
        );
        assert!(r.gzip.is_none() && r.brotli.is_none());
        assert_eq!(r.encodings().collect::<Vec<_>>(), vec![Encoding::Identity]);
    }

    #[test]
    fn last_modified_keeps_or_advances() {
        let t = UNIX_EPOCH + Duration::from_millis(1_000_500);
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(
            next_last_modified(None, &a, t),
            UNIX_EPOCH + Duration::from_secs(1000)
        );
        let later = t + Duration::from_secs(60);
        assert_eq!(next_last_modified(Some((&a, t)), &a, later), t);
        assert_eq!(
            next_last_modified(Some((&a, t)), &b, later),
            UNIX_EPOCH + Duration::from_secs(1060)
        );
        // A change within the same second still moves the time forward.
        assert_eq!(
            next_last_modified(Some((&a, UNIX_EPOCH + Duration::from_secs(1000))), &b, t),
            UNIX_EPOCH + Duration::from_secs(1001)
        );
    }
}
