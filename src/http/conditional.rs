//! Conditional requests (RFC 9110 §13) and content-coding negotiation (§12.5.3), as pure
//! decisions separate from building responses.

use std::borrow::Cow;
use std::time::SystemTime;

use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    IF_UNMODIFIED_SINCE,
};

use crate::render::{truncate_to_second, Encoding};

/// What the preconditions of a GET or HEAD request decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Send the representation (200).
    Proceed,
    /// The client's copy is current (304).
    NotModified,
    /// An `If-Match` or `If-Unmodified-Since` precondition failed (412).
    Failed,
}

/// Evaluates the preconditions of a GET or HEAD request against the selected
/// representation's `etag` and `last_modified`, in the order of RFC 9110 §13.2.2:
///
/// 1. `If-Match` present: no strong match (or not `*`; or a value that is not text) → 412.
/// 2. Otherwise `If-Unmodified-Since` present with a valid date: modified after it → 412.
/// 3. `If-None-Match` present: a weak match (or `*`) → 304; no match → 200, and
///    `If-Modified-Since` is not looked at.
/// 4. Otherwise `If-Modified-Since` present with a valid date: not modified after it → 304.
/// 5. Otherwise → 200.
pub fn evaluate(headers: &HeaderMap, etag: &str, last_modified: SystemTime) -> Precondition {
    let present = Present::of(headers);
    if present.if_match {
        // A value that is not even text names no current tag: the precondition fails. It is
        // present all the same, so If-Unmodified-Since is not looked at (§13.2.2, step 1).
        let matched = header_text(headers, IF_MATCH).is_some_and(|v| list_matches(&v, etag, false));
        if !matched {
            return Precondition::Failed;
        }
    } else if present.if_unmodified_since {
        if let Some(since) = header_date(headers, IF_UNMODIFIED_SINCE) {
            if truncate_to_second(last_modified) > since {
                return Precondition::Failed;
            }
        }
    }
    if present.if_none_match {
        let mut none_match = headers.get_all(IF_NONE_MATCH).iter();
        let first = none_match.next().map(HeaderValue::as_bytes);
        // The usual conditional request repeats the tag it was given: one comparison of
        // the bytes, without parsing a list.
        let matched = if first == Some(etag.as_bytes())
            && none_match.next().is_none()
            && is_plain_tag(etag)
        {
            Some(true)
        } else {
            // Not text: as if absent.
            header_text(headers, IF_NONE_MATCH).map(|value| list_matches(&value, etag, true))
        };
        match matched {
            Some(true) => return Precondition::NotModified,
            Some(false) => return Precondition::Proceed,
            None => {}
        }
    }
    if present.if_modified_since {
        if let Some(since) = header_date(headers, IF_MODIFIED_SINCE) {
            if truncate_to_second(last_modified) <= since {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// Which precondition headers a request has. One pass over the names of its few headers
/// costs less than looking each of the four up in the map.
#[derive(Debug, Default)]
struct Present {
    if_match: bool,
    if_unmodified_since: bool,
    if_none_match: bool,
    if_modified_since: bool,
}

impl Present {
    fn of(headers: &HeaderMap) -> Present {
        let mut present = Present::default();
        for name in headers.keys() {
            if *name == IF_NONE_MATCH {
                present.if_none_match = true;
            } else if *name == IF_MODIFIED_SINCE {
                present.if_modified_since = true;
            } else if *name == IF_MATCH {
                present.if_match = true;
            } else if *name == IF_UNMODIFIED_SINCE {
                present.if_unmodified_since = true;
            }
        }
        present
    }
}

/// Is `etag` one well-formed entity tag (`"…"` or `W/"…"`, only `etagc` characters
/// between the quotes)? Then a header value with exactly its bytes is a list of that one
/// tag, which matches it under weak comparison.
fn is_plain_tag(etag: &str) -> bool {
    let bytes = etag.as_bytes();
    let bytes = bytes.strip_prefix(b"W/").unwrap_or(bytes);
    match bytes {
        // No early exit: a fold over ~40 bytes compiles to a few vector steps.
        [b'"', inner @ .., b'"'] => inner.iter().fold(true, |ok, &b| {
            ok & (b == 0x21 || (0x23..=0x7e).contains(&b))
        }),
        _ => false,
    }
}

/// All values of a header as one list; `None` when absent or not text. The usual single
/// value is borrowed, not copied.
fn header_text(headers: &HeaderMap, name: hyper::header::HeaderName) -> Option<Cow<'_, str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?.to_str().ok()?;
    let rest: Option<Vec<&str>> = values.map(|v| v.to_str().ok()).collect();
    match rest? {
        rest if rest.is_empty() => Some(Cow::Borrowed(first)),
        rest => Some(Cow::Owned(format!("{first},{}", rest.join(",")))),
    }
}

fn header_date(headers: &HeaderMap, name: hyper::header::HeaderName) -> Option<SystemTime> {
    let value = headers.get(name)?.to_str().ok()?;
    httpdate::parse_http_date(value.trim()).ok()
}

/// Does the entity-tag list `value` match `etag`? `*` matches anything. Weak comparison
/// ignores `W/` prefixes; strong comparison never matches a weak tag.
pub fn list_matches(value: &str, etag: &str, weak: bool) -> bool {
    let ours = etag.strip_prefix("W/").unwrap_or(etag);
    let ours_weak = etag.starts_with("W/");
    if value.trim() == "*" {
        return true;
    }
    EntityTags(value).any(|(is_weak, tag)| {
        if weak {
            tag == ours
        } else {
            !is_weak && !ours_weak && tag == ours
        }
    })
}

/// The entity tags of a list, as `(weak, "opaque-tag")` pairs, quotes included; entries
/// that are not entity tags are skipped.
struct EntityTags<'a>(&'a str);

impl<'a> Iterator for EntityTags<'a> {
    type Item = (bool, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self
                .0
                .trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
            if rest.is_empty() {
                self.0 = rest;
                return None;
            }
            let (weak, body) = match rest.strip_prefix("W/") {
                Some(b) => (true, b),
                None => (false, rest),
            };
            if let Some(inner) = body.strip_prefix('"') {
                let end = inner.find('"')?;
                self.0 = &inner[end + 1..];
                return Some((weak, &body[..end + 2]));
            }
            // Not an entity tag: skip to the next comma.
            self.0 = match rest.find(',') {
                Some(i) => &rest[i + 1..],
                None => "",
            };
        }
    }
}

/// Chooses the content coding for a request from its `Accept-Encoding` (with q-values,
/// `*` and `identity;q=0`) among `available` (best first). `None` when the client accepts
/// none of them (406).
pub fn choose_encoding(headers: &HeaderMap, available: &[Encoding]) -> Option<Encoding> {
    let Some(accept) = AcceptEncoding::parse(headers) else {
        return available
            .contains(&Encoding::Identity)
            .then_some(Encoding::Identity);
    };
    let star = accept.star;
    let mut best: Option<(Encoding, u32)> = None;
    for &encoding in available {
        let q = match encoding {
            Encoding::Gzip => accept.gzip.or(accept.x_gzip).or(star).unwrap_or(0),
            // Acceptable unless excluded, but never preferred over a coding the client named.
            Encoding::Identity => accept.identity.or(star).unwrap_or(1),
            Encoding::Brotli => accept.br.or(star).unwrap_or(0),
        };
        if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((encoding, q));
        }
    }
    best.map(|(e, _)| e)
}

/// The q-values (in thousandths) an `Accept-Encoding` header gives the codings feedpub
/// looks at; `None` where it does not name one. When a coding is named twice, its first
/// entry counts.
#[derive(Debug, Default)]
struct AcceptEncoding {
    star: Option<u32>,
    br: Option<u32>,
    gzip: Option<u32>,
    x_gzip: Option<u32>,
    identity: Option<u32>,
}

impl AcceptEncoding {
    /// Reads every `Accept-Encoding` value in one pass; `None` when the header is absent
    /// or one of its values is not text.
    fn parse(headers: &HeaderMap) -> Option<AcceptEncoding> {
        let values = headers.get_all(ACCEPT_ENCODING);
        let mut present = false;
        for value in values.iter() {
            value.to_str().ok()?;
            present = true;
        }
        if !present {
            return None;
        }
        let mut accept = AcceptEncoding::default();
        for value in values.iter() {
            // Checked above: every value is visible ASCII.
            for part in value.as_bytes().split(|&b| b == b',') {
                accept.entry(part);
            }
        }
        Some(accept)
    }

    /// Records one list member, `coding *( ";" param )`.
    fn entry(&mut self, part: &[u8]) {
        let mut pieces = part.split(|&b| b == b';');
        let coding = pieces.next().unwrap_or_default().trim_ascii();
        let slot = if coding == b"*" {
            &mut self.star
        } else if coding.eq_ignore_ascii_case(b"br") {
            &mut self.br
        } else if coding.eq_ignore_ascii_case(b"gzip") {
            &mut self.gzip
        } else if coding.eq_ignore_ascii_case(b"x-gzip") {
            &mut self.x_gzip
        } else if coding.eq_ignore_ascii_case(b"identity") {
            &mut self.identity
        } else {
            return;
        };
        if slot.is_some() {
            return;
        }
        let mut q = 1000;
        for param in pieces {
            let param = param.trim_ascii();
            if let Some(v) = param
                .strip_prefix(b"q=")
                .or_else(|| param.strip_prefix(b"Q="))
            {
                q = parse_qvalue(v.trim_ascii()).unwrap_or(0);
            }
        }
        *slot = Some(q);
    }
}

/// Parses a q-value (`0`, `0.5`, `1.000`) into thousandths.
fn parse_qvalue(v: &[u8]) -> Option<u32> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let frac_value = frac
        .iter()
        .zip([100, 10, 1])
        .map(|(d, scale)| u32::from(d - b'0') * scale)
        .sum::<u32>();
    match int {
        b"0" => Some(frac_value),
        b"1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use std::time::{Duration, UNIX_EPOCH};

    const TAG: &str = "\"abc\"";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn lm() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn date(offset: i64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs((1_700_000_000 + offset) as u64))
    }

    #[test]
    fn if_none_match_exact_list_star_and_weak_return_304() {
        for v in [
            "\"abc\"",
            "\"x\", \"abc\"",
            "*",
            "W/\"abc\"",
            "\"x\",W/\"abc\"",
        ] {
            assert_eq!(
                evaluate(&headers(&[("if-none-match", v)]), TAG, lm()),
                Precondition::NotModified,
                "{v}"
            );
        }
        assert_eq!(
            evaluate(&headers(&[("if-none-match", "\"abd\"")]), TAG, lm()),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_modified_since_older_equal_newer() {
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", &date(-1))]), TAG, lm()),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", &date(0))]), TAG, lm()),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", &date(3600))]), TAG, lm()),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", "yesterday")]), TAG, lm()),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_none_match_mismatch_wins_over_if_modified_since() {
        let h = headers(&[
            ("if-none-match", "\"old\""),
            ("if-modified-since", &date(3600)),
        ]);
        assert_eq!(evaluate(&h, TAG, lm()), Precondition::Proceed);
    }

    #[test]
    fn if_match_that_is_not_text_fails_with_412_and_hides_if_unmodified_since() {
        let etag = "\"abc\"";
        let lm = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert(IF_MATCH, HeaderValue::from_bytes(b"\"abc\xff\"").unwrap());
        // A date after the last modification would let the request proceed, were it read.
        headers.insert(
            IF_UNMODIFIED_SINCE,
            HeaderValue::from_str(&httpdate::fmt_http_date(lm + Duration::from_secs(60))).unwrap(),
        );
        assert_eq!(evaluate(&headers, etag, lm), Precondition::Failed);
    }

    #[test]
    fn if_match_and_if_unmodified_since_fail_with_412() {
        assert_eq!(
            evaluate(&headers(&[("if-match", "\"x\"")]), TAG, lm()),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(&headers(&[("if-match", "W/\"abc\"")]), TAG, lm()),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(&headers(&[("if-match", "\"abc\"")]), TAG, lm()),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(&headers(&[("if-unmodified-since", &date(-10))]), TAG, lm()),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(&headers(&[("if-unmodified-since", &date(10))]), TAG, lm()),
            Precondition::Proceed
        );
    }

    #[test]
    fn sub_second_last_modified_compares_at_second_resolution() {
        let h = headers(&[("if-modified-since", &date(0))]);
        assert_eq!(
            evaluate(&h, TAG, lm() + Duration::from_millis(700)),
            Precondition::NotModified
        );
    }

    #[test]
    fn if_none_match_byte_shortcut_agrees_with_list_parsing() {
        let weak = "W/\"abc\"";
        for (etag, value, expected) in [
            (TAG, TAG, Precondition::NotModified),
            (weak, weak, Precondition::NotModified),
            (weak, TAG, Precondition::NotModified),
            (TAG, weak, Precondition::NotModified),
            // Not entity tags: equal bytes are no match.
            ("abc", "abc", Precondition::Proceed),
            ("\"a\"b\"", "\"a\"b\"", Precondition::Proceed),
        ] {
            assert_eq!(
                evaluate(&headers(&[("if-none-match", value)]), etag, lm()),
                expected,
                "{etag} vs {value}"
            );
        }
        // Two header lines are one list.
        let two = headers(&[("if-none-match", "\"x\""), ("if-none-match", TAG)]);
        assert_eq!(evaluate(&two, TAG, lm()), Precondition::NotModified);
        // If-Match is still looked at first.
        let both = headers(&[("if-match", "\"x\""), ("if-none-match", TAG)]);
        assert_eq!(evaluate(&both, TAG, lm()), Precondition::Failed);
    }

    #[test]
    fn qvalues() {
        for (v, q) in [
            ("0", Some(0)),
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1.001", None),
            ("0.1234", None),
            ("0.a", None),
            ("2", None),
            ("", None),
        ] {
            assert_eq!(parse_qvalue(v.as_bytes()), q, "{v}");
        }
    }

    #[test]
    fn encoding_negotiation_first_entry_and_all_lines_count() {
        use Encoding::*;
        let all = [Brotli, Gzip, Identity];
        let pick = |pairs: &[(&'static str, &str)]| choose_encoding(&headers(pairs), &all);
        assert_eq!(
            pick(&[("accept-encoding", "br;q=0, br, gzip;q=0.5")]),
            Some(Gzip)
        );
        assert_eq!(pick(&[("accept-encoding", "x-gzip")]), Some(Gzip));
        assert_eq!(
            pick(&[
                ("accept-encoding", "gzip;q=0.2"),
                ("accept-encoding", "br;q=0.3")
            ]),
            Some(Brotli)
        );
        assert_eq!(
            pick(&[
                ("accept-encoding", "identity;q=0"),
                ("accept-encoding", "gzip")
            ]),
            Some(Gzip)
        );
        assert_eq!(
            pick(&[("accept-encoding", " gzip ; q=0 , br ; q=1 ")]),
            Some(Brotli)
        );
    }

    #[test]
    fn encoding_negotiation() {
        use Encoding::*;
        let all = [Brotli, Gzip, Identity];
        let pick = |v: Option<&str>| {
            let h = match v {
                Some(v) => headers(&[("accept-encoding", v)]),
                None => HeaderMap::new(),
            };
            choose_encoding(&h, &all)
        };
        assert_eq!(pick(None), Some(Identity));
        assert_eq!(pick(Some("gzip")), Some(Gzip));
        assert_eq!(pick(Some("gzip, deflate, br")), Some(Brotli));
        assert_eq!(pick(Some("br;q=0.5, gzip;q=0.8")), Some(Gzip));
        assert_eq!(pick(Some("br;q=0, gzip;q=0")), Some(Identity));
        assert_eq!(pick(Some("identity;q=0")), None);
        assert_eq!(pick(Some("gzip;q=0.1, identity;q=0")), Some(Gzip));
        assert_eq!(pick(Some("*")), Some(Brotli));
        assert_eq!(pick(Some("*;q=0")), None);
        assert_eq!(pick(Some("*;q=0, identity")), Some(Identity));
        assert_eq!(pick(Some("deflate")), Some(Identity));
        assert_eq!(pick(Some("GZIP;Q=1.0")), Some(Gzip));
        assert_eq!(
            choose_encoding(&headers(&[("accept-encoding", "br")]), &[Identity]),
            Some(Identity)
        );
    }
}
