//! The combined log format (`%h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`),
//! the default `combined` of nginx and Apache: one line in, the request it records out.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One request of an access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The client address (`%h`).
    pub client: IpAddr,
    /// When the request was received (`%t`).
    pub time: SystemTime,
    /// The request method.
    pub method: String,
    /// The request path, without its query.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// The User-Agent (`-` when there was none is given as empty).
    pub agent: String,
}

/// Why a line is not in the combined format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogLineError {
    /// A field is missing or malformed.
    #[error("expected {0}")]
    Expected(&'static str),
}

/// Parses one line of a combined-format log.
pub fn parse(line: &str) -> Result<LogLine, LogLineError> {
    use LogLineError::Expected;
    let line = line.trim_end_matches(['\r', '\n']);
    let (host, rest) = line.split_once(' ').ok_or(Expected("a client address"))?;
    let client: IpAddr = host.parse().map_err(|_| Expected("a client address"))?;
    // %l and %u: two words.
    let (_, rest) = rest.split_once(' ').ok_or(Expected("the identity field"))?;
    let (_, rest) = rest.split_once(' ').ok_or(Expected("the user field"))?;
    let rest = rest
        .strip_prefix('[')
        .ok_or(Expected("`[` before the time"))?;
    let (time, rest) = rest
        .split_once("] ")
        .ok_or(Expected("`]` after the time"))?;
    let time = chrono::DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z")
        .map_err(|_| Expected("a time such as 10/Oct/2000:13:55:36 -0700"))?;
    let secs = u64::try_from(time.timestamp()).map_err(|_| Expected("a time after 1970"))?;
    let (request, rest) = quoted(rest).ok_or(Expected("a quoted request line"))?;
    let mut words = request.split(' ');
    let method = words
        .next()
        .filter(|m| !m.is_empty())
        .ok_or(Expected("a method"))?;
    let target = words.next().ok_or(Expected("a request target"))?;
    let rest = rest.strip_prefix(' ').ok_or(Expected("a status"))?;
    let (status, rest) = rest.split_once(' ').ok_or(Expected("a status"))?;
    let status: u16 = status
        .parse()
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or(Expected("a status"))?;
    let (_bytes, rest) = rest.split_once(' ').ok_or(Expected("a size"))?;
    let (_referer, rest) = quoted(rest).ok_or(Expected("a quoted referer"))?;
    let rest = rest
        .strip_prefix(' ')
        .ok_or(Expected("a quoted User-Agent"))?;
    let (agent, _) = quoted(rest).ok_or(Expected("a quoted User-Agent"))?;
    let path = target.split('?').next().unwrap_or(target);
    // An absolute-form target (a proxy's log) names the path after the authority; a path
    // (`/…`) is the path whatever it holds, `://` too.
    let path = match path.split_once("://") {
        Some((_, after)) if !path.starts_with('/') => after.find('/').map_or("/", |i| &after[i..]),
        _ => path,
    };
    Ok(LogLine {
        client,
        time: UNIX_EPOCH + Duration::from_secs(secs),
        method: method.to_string(),
        path: path.to_string(),
        status,
        agent: if agent == "-" { String::new() } else { agent },
    })
}

/// A `"…"` field at the start of `text`, unescaped (`\"` and `\\` as Apache writes them,
/// `\xHH` as nginx does), and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let body = text.strip_prefix('"')?;
    let mut out = Vec::with_capacity(body.len().min(256));
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), &body[i + 1..])),
            b'\\' if i + 1 < bytes.len() => {
                let next = bytes[i + 1];
                let hex = (next == b'x' && i + 3 < bytes.len())
                    .then(|| std::str::from_utf8(&bytes[i + 2..i + 4]).ok())
                    .flatten()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 4;
                    }
                    None => {
                        out.push(next);
                        i += 2;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nginx_combined_line_parses() {
        let line = r#"127.0.0.2 - - [01/Dec/2026:10:00:00 +0000] "GET /rss.xml?x=1 HTTP/1.1" 304 0 "-" "newsboat/2.30 (Linux x86_64)""#;
        let got = parse(line).unwrap();
        assert_eq!(got.client, "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(got.method, "GET");
        assert_eq!(got.path, "/rss.xml");
        assert_eq!(got.status, 304);
        assert_eq!(got.agent, "newsboat/2.30 (Linux x86_64)");
        let want = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap();
        assert_eq!(
            got.time,
            UNIX_EPOCH + Duration::from_secs(want.timestamp() as u64)
        );
    }

    #[test]
    fn zones_escapes_and_ipv6_are_read() {
        let line = r#"2001:db8::1 - frank [10/Oct/2000:13:55:36 -0700] "HEAD /atom.xml HTTP/1.0" 200 2326 "http://x/\"q\"" "Agent \x22quoted\x22 \\ end""#;
        let got = parse(line).unwrap();
        assert_eq!(got.client, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(got.agent, r#"Agent "quoted" \ end"#);
        assert_eq!(got.time, UNIX_EPOCH + Duration::from_secs(971_211_336));
        let dash = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET http://feeds.test/rss.xml HTTP/1.1" 200 5 "-" "-""#;
        let got = parse(dash).unwrap();
        assert_eq!((got.path.as_str(), got.agent.as_str()), ("/rss.xml", ""));
    }

    /// Found by the `logline` fuzz target: a path holding `://` was taken for an absolute
    /// URL, so `/tags/http://x/rss.xml` was counted as a poll of `/rss.xml`.
    #[test]
    fn a_path_holding_a_scheme_separator_is_kept_whole() {
        for (target, path) in [
            ("/tags/http://x/rss.xml", "/tags/http://x/rss.xml"),
            ("/://", "/://"),
            ("/a://b?c://d/", "/a://b"),
            ("https://feeds.test/atom.xml?x", "/atom.xml"),
            ("http://feeds.test", "/"),
        ] {
            let line = format!(
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET {target} HTTP/1.1" 200 5 "-" "-""#
            );
            assert_eq!(parse(&line).unwrap().path, path, "{target}");
        }
    }

    #[test]
    fn lines_not_in_the_format_are_errors() {
        for line in [
            "",
            "garbage",
            r#"not-an-ip - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-""#,
            r#"1.2.3.4 - - [10/Oct/2000 13:55:36] "GET / HTTP/1.1" 200 5 "-" "-""#,
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 999 5 "-" "-""#,
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-""#,
            // The common format, without referer and agent.
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5"#,
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }
}
