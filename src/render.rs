//! Rendered resources: bytes with their compressed variants and validators, computed once
//! per generation and then only cloned (cheaply: [`Bytes`] is reference counted) per request.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
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

/// A resource ready to be served: identity, gzip and brotli bodies, validators, type.
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
    /// When these bytes were first served. Never earlier than the previous generation's bytes.
    pub last_modified: SystemTime,
    /// SHA-256 of the identity body.
    pub digest: [u8; 32],
    /// A `Link` header to send with it (WebSub `rel="hub"` and `rel="self"`).
    pub link_header: Option<String>,
    /// The response headers of each variant, made by the HTTP layer on first use and kept
    /// with the resource (a clone keeps them too).
    pub prepared: PreparedHeaders,
}

/// Ready-made response header maps of a [`Resource`], made once from
/// [`PreparedHeaders::key`]'s inputs and then cloned per response. Whoever uses them checks
/// the key first: the resource's public fields may have changed since they were made.
#[derive(Debug, Clone, Default)]
pub struct PreparedHeaders(OnceLock<HeaderSet>);

impl PreparedHeaders {
    /// The headers made earlier, or made now by `make`.
    pub fn get_or_init(&self, make: impl FnOnce() -> HeaderSet) -> &HeaderSet {
        self.0.get_or_init(make)
    }
}

/// What makes the response headers of a resource differ between uses, besides the variant
/// and the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderKey {
    /// The `Cache-Control` max-age.
    pub max_age: u64,
    /// [`Resource::last_modified`].
    pub last_modified: SystemTime,
    /// [`Resource::link_header`].
    pub link_header: Option<String>,
}

/// The response headers of a resource's variants, for one [`HeaderKey`].
#[derive(Debug, Clone)]
pub struct HeaderSet {
    /// What the maps were made from.
    pub key: HeaderKey,
    /// For [`Encoding::Identity`], [`Encoding::Gzip`], [`Encoding::Brotli`] (in that order):
    /// the headers of a 200 and of a 304 response. `None` where the resource has no such
    /// variant.
    pub maps: [Option<[HeaderMap; 2]>; 3],
}

impl HeaderSet {
    /// The headers of the `encoding` variant: those of a 200 response, or of a 304 when
    /// `not_modified`.
    pub fn get(&self, encoding: Encoding, not_modified: bool) -> Option<&HeaderMap> {
        let index = match encoding {
            Encoding::Identity => 0,
            Encoding::Gzip => 1,
            Encoding::Brotli => 2,
        };
        self.maps[index]
            .as_ref()
            .map(|pair| &pair[usize::from(not_modified)])
    }
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
    ) -> Resource {
        let digest = Resource::digest_of(&body);
        let tag = hex(&digest[..16]);
        let compressed = |encoding: Encoding, bytes: Option<Vec<u8>>| {
            bytes.map(|b| Variant::new(Bytes::from(b), format!("\"{tag}-{}\"", encoding.token())))
        };
        let worth = compress && body.len() >= MIN_COMPRESS;
        // Both encoders run at once: compression is most of the time a new feed waits for.
        let (gzip, brotli) = if worth {
            rayon::join(|| Some(gzip(&body)), || Some(brotli(&body)))
        } else {
            (None, None)
        };
        let gzip = compressed(Encoding::Gzip, gzip);
        let brotli = compressed(Encoding::Brotli, brotli);
        Resource {
            content_type,
            identity: Variant::new(Bytes::from(body), format!("\"{tag}\"")),
            gzip,
            brotli,
            last_modified,
            digest,
            link_header: None,
            prepared: PreparedHeaders::default(),
        }
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
    // A window as large as the body (within brotli's 2^16..2^22) finds every match that a
    // larger one would, without clearing megabytes of ring buffer for a small feed.
    let lgwin = (usize::BITS - body.len().leading_zeros()).clamp(16, 22) as i32;
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
    fn compressed_variants_decompress_to_the_body_and_have_own_tags() {
        let body = "<p>feed</p>".repeat(200).into_bytes();
        let r = Resource::new("text/html", body.clone(), UNIX_EPOCH, true);
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
            Resource::new("text/html", body, UNIX_EPOCH, true)
                .identity
                .etag,
            *tags[0]
        );
    }

    #[test]
    fn tiny_bodies_are_not_compressed() {
        let r = Resource::new("text/plain", b"ok\n".to_vec(), UNIX_EPOCH, true);
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
