//! The contract of the combined-log-line parser (`feedpub::stats::logline::parse`, what
//! `feedpub stats import` reads), checked by the `logline` fuzz target and by
//! `tests/fuzz_replay.rs` over every kept input:
//!
//! - any text parses or is refused without a panic; a parsed line has a status from 100 to
//!   599, a method and a path without spaces, a path without its query, and reads the same
//!   with its line ending;
//! - round trip: a line the server's own access log writes (`combined_line`) parses back to
//!   the fields it was written from, as the log keeps them (cut to its bounds, `...` marking
//!   a cut; an absent or `-` User-Agent as empty). The response is made twice: from the
//!   fields of the input when it parses, and from the input's bytes taken as fields (any
//!   bytes in the headers, any text in the method and target but the space hyper never
//!   hands over).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use feedpub::http::access_log::{combined_line, Response, MAX_HEADER, MAX_TARGET};
use feedpub::stats::logline::{parse, LogLine};

/// The longest method the access log writes, in bytes.
const MAX_METHOD: usize = 32;

/// The first second of the year 10000: the server's clock never gets there, and the log's
/// four-digit year cannot say it.
const YEAR_10000: u64 = 253_402_300_800;

/// Checks the contract for `data`, read as a line and as the fields of a response; `Err`
/// says what broke.
pub fn check(data: &[u8]) -> Result<(), String> {
    let line = String::from_utf8_lossy(data);
    if let Ok(parsed) = parse(&line) {
        check_fields(&line, &parsed)?;
        let (method, path, agent) = (&parsed.method, &parsed.path, parsed.agent.as_bytes());
        let secs = parsed
            .time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if secs < YEAR_10000 {
            round_trip(&Response {
                client: parsed.client,
                time: parsed.time,
                method,
                target: path,
                version: "HTTP/1.1",
                status: parsed.status,
                bytes: 0,
                referer: None,
                user_agent: (!agent.is_empty()).then_some(agent),
            })?;
        }
    }
    let fields = Fields::from_bytes(data);
    round_trip(&fields.response())
}

fn check_fields(line: &str, parsed: &LogLine) -> Result<(), String> {
    if !(100..=599).contains(&parsed.status) {
        return Err(format!("{line:?}: status {}", parsed.status));
    }
    if parsed.method.is_empty() || parsed.method.contains(' ') || parsed.path.contains(' ') {
        return Err(format!("{line:?}: method or path with a space: {parsed:?}"));
    }
    if parsed.path.contains('?') {
        return Err(format!("{line:?}: the path keeps its query: {parsed:?}"));
    }
    if parse(&format!("{line}\r\n")).as_ref() != Ok(parsed) {
        return Err(format!("{line:?}: reads otherwise with its line ending"));
    }
    Ok(())
}

/// `response` through the access log's line and back.
fn round_trip(response: &Response<'_>) -> Result<(), String> {
    let line = combined_line(response);
    let parsed = parse(&line).map_err(|e| format!("{line:?}: the log's own line: {e}"))?;
    let secs = response
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let agent = match response.user_agent {
        None | Some(b"") | Some(b"-") => String::new(),
        Some(agent) => logged(agent, MAX_HEADER),
    };
    let target = logged(response.target.as_bytes(), MAX_TARGET);
    let want = LogLine {
        client: response.client,
        time: UNIX_EPOCH + Duration::from_secs(secs),
        method: logged(response.method.as_bytes(), MAX_METHOD),
        path: target.split('?').next().unwrap_or_default().to_string(),
        status: response.status,
        agent,
    };
    if parsed != want {
        return Err(format!(
            "{line:?} parses to\n  {parsed:?}\nnot to what was logged:\n  {want:?}"
        ));
    }
    Ok(())
}

/// `bytes` as the log keeps them: cut to `max` bytes (`...` marks a cut), read as UTF-8.
fn logged(bytes: &[u8], max: usize) -> String {
    let mut kept = bytes[..bytes.len().min(max)].to_vec();
    if bytes.len() > max {
        kept.extend_from_slice(b"...");
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// A response made of the input's bytes: a fixed head (address, time, status, size), then
/// method, target, Referer and User-Agent separated by newlines.
struct Fields {
    client: IpAddr,
    time: SystemTime,
    status: u16,
    bytes: u64,
    method: String,
    target: String,
    referer: Option<Vec<u8>>,
    user_agent: Option<Vec<u8>>,
}

impl Fields {
    fn from_bytes(data: &[u8]) -> Fields {
        let mut head = [0u8; 32];
        let n = data.len().min(head.len());
        head[..n].copy_from_slice(&data[..n]);
        let rest = &data[n..];
        let client = if head[0] & 1 == 0 {
            IpAddr::V4(Ipv4Addr::new(head[1], head[2], head[3], head[4]))
        } else {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&head[1..17]);
            IpAddr::V6(Ipv6Addr::from(octets))
        };
        let number = |bytes: &[u8]| bytes.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
        let time = UNIX_EPOCH
            + Duration::from_secs(number(&head[17..22]) % YEAR_10000)
            + Duration::from_millis(number(&head[22..24]) % 1000);
        let status = 100 + (number(&head[24..26]) % 500) as u16;
        let bytes = number(&head[26..32]);
        let mut parts = rest.split(|&b| b == b'\n');
        // hyper hands over neither an empty method nor a space in the method or the target.
        let text = |part: Option<&[u8]>| {
            String::from_utf8_lossy(part.unwrap_or_default()).replace(' ', "")
        };
        let mut method = text(parts.next());
        if method.is_empty() {
            method = "GET".into();
        }
        let mut target = text(parts.next());
        if !target.starts_with('/') {
            target.insert(0, '/');
        }
        Fields {
            client,
            time,
            status,
            bytes,
            method,
            target,
            referer: parts.next().map(<[u8]>::to_vec),
            user_agent: parts.next().map(<[u8]>::to_vec),
        }
    }

    fn response(&self) -> Response<'_> {
        Response {
            client: self.client,
            time: self.time,
            method: &self.method,
            target: &self.target,
            version: "HTTP/1.1",
            status: self.status,
            bytes: self.bytes,
            referer: self.referer.as_deref(),
            user_agent: self.user_agent.as_deref(),
        }
    }
}
