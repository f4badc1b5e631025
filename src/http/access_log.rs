//! The access log: one line per response in the combined log format of nginx and Apache,
//! written by a thread of its own so that no request waits on the disk, and reopened on
//! SIGHUP so that logrotate can move the file away.
//!
//! Everything a client sends is escaped the way nginx escapes it (`"`, `\` and bytes outside
//! printable ASCII as `\xHH`) and cut to a bounded length, so no request line or User-Agent
//! can forge a line, break one, or make one huge.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// The longest request target logged, in bytes; longer ones are cut (and end in `...`).
pub const MAX_TARGET: usize = 2048;

/// The longest `Referer` or `User-Agent` logged, in bytes.
pub const MAX_HEADER: usize = 1024;

/// How many lines may wait for the writer; more are dropped and counted.
pub const QUEUE: usize = 16_384;

/// One response, as the log line tells it: a view of the request, borrowed for as long as
/// the [`Entry`] is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// The client: the peer, or the address a trusted proxy forwarded.
    pub client: IpAddr,
    /// When the response was made.
    pub time: SystemTime,
    /// The method, as sent.
    pub method: &'a str,
    /// The request target (path and query), as sent.
    pub target: &'a str,
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub version: &'static str,
    /// The status code.
    pub status: u16,
    /// The body bytes sent.
    pub bytes: u64,
    /// The `Referer` header, if any.
    pub referer: Option<&'a [u8]>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<&'a [u8]>,
}

/// One queued line: the client and the time, which the writer formats (the time once a
/// second), and the rest of the line, escaped on the request side into one buffer: one
/// allocation per response (four copies of the request's text took 1–2 µs of a 304 in
/// `bench/serve.sh --ops`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    client: IpAddr,
    time: SystemTime,
    /// `"GET /rss.xml HTTP/1.1" 304 0 "-" "UA"` and the newline.
    rest: Vec<u8>,
}

impl Entry {
    /// The line of `response`, escaped and cut.
    pub fn new(response: &Response<'_>) -> Entry {
        let header_len = |h: Option<&[u8]>| h.map_or(1, |v| v.len().min(MAX_HEADER) + 3);
        let mut rest = Vec::with_capacity(
            response.target.len().min(MAX_TARGET)
                + header_len(response.referer)
                + header_len(response.user_agent)
                + 64,
        );
        rest.push(b'"');
        escaped(&mut rest, response.method.as_bytes(), 32);
        rest.push(b' ');
        escaped(&mut rest, response.target.as_bytes(), MAX_TARGET);
        rest.push(b' ');
        rest.extend_from_slice(response.version.as_bytes());
        rest.extend_from_slice(b"\" ");
        decimal(&mut rest, u64::from(response.status));
        rest.push(b' ');
        decimal(&mut rest, response.bytes);
        for header in [response.referer, response.user_agent] {
            rest.extend_from_slice(b" \"");
            match header {
                Some(value) if !value.is_empty() => escaped(&mut rest, value, MAX_HEADER),
                _ => rest.push(b'-'),
            }
            rest.push(b'"');
        }
        rest.push(b'\n');
        Entry {
            client: response.client,
            time: response.time,
            rest,
        }
    }
}

/// Appends `n` in decimal (with `itoa`: a loop of divisions by ten took 390 instructions of
/// the six numbers of a line).
fn decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `bytes` escaped as nginx does, cut to `max` bytes of input (`...` marks a cut):
/// runs of printable ASCII are copied whole, `"` and `\` get a backslash, any other byte
/// becomes `\xHH`.
fn escaped(out: &mut Vec<u8>, bytes: &[u8], max: usize) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let kept = &bytes[..bytes.len().min(max)];
    let mut run = 0;
    for (i, &b) in kept.iter().enumerate() {
        let plain = matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\';
        if plain {
            continue;
        }
        out.extend_from_slice(&kept[run..i]);
        run = i + 1;
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&[b'\\', b]);
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        }
    }
    out.extend_from_slice(&kept[run..]);
    if bytes.len() > max {
        out.extend_from_slice(b"...");
    }
}

/// The time field of the current second, formatted once per second.
#[derive(Debug, Default)]
struct Clock {
    second: Option<i64>,
    text: String,
}

impl Clock {
    fn format(&mut self, time: SystemTime) -> &str {
        let second = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if self.second != Some(second) {
            self.second = Some(second);
            let time: DateTime<Utc> = time.into();
            self.text = time.format("%d/%b/%Y:%H:%M:%S +0000").to_string();
        }
        &self.text
    }
}

/// The combined-format line of `response`, with its newline:
/// `ADDR - - [01/Dec/2026:18:30:00 +0000] "GET /rss.xml HTTP/1.1" 304 0 "-" "UA"`.
pub fn combined_line(response: &Response<'_>) -> String {
    let mut line = Vec::with_capacity(160);
    write_line(&mut line, &Entry::new(response), &mut Clock::default());
    // Every byte of a line is printable ASCII or the newline (see `escaped`).
    String::from_utf8_lossy(&line).into_owned()
}

/// Appends the line of `entry`: the client and the time field, then the rest made on the
/// request side. Without the formatting machinery: `write!` of the address and the time took
/// 1,500 instructions of a 304's 18,000 (callgrind, `bench/profile_serve.sh --variant ops`).
fn write_line(line: &mut Vec<u8>, entry: &Entry, clock: &mut Clock) {
    address(line, entry.client);
    line.extend_from_slice(b" - - [");
    line.extend_from_slice(clock.format(entry.time).as_bytes());
    line.extend_from_slice(b"] ");
    line.extend_from_slice(&entry.rest);
}

/// Appends `ip` as text: IPv4 by hand (nearly every client), IPv6 through `Display`.
fn address(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(digits.format(octet).as_bytes());
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (`access_log = "-"`).
    Stdout,
    /// A file, appended to.
    File(PathBuf),
}

impl Target {
    /// `-` is standard output; anything else a file.
    pub fn parse(value: &Path) -> Target {
        if value == Path::new("-") {
            Target::Stdout
        } else {
            Target::File(value.to_path_buf())
        }
    }

    fn open(&self) -> io::Result<Box<dyn Write + Send>> {
        match self {
            Target::Stdout => Ok(Box::new(io::stdout())),
            Target::File(path) => {
                let file: File = OpenOptions::new().create(true).append(true).open(path)?;
                Ok(Box::new(file))
            }
        }
    }
}

/// Why the access log cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot open the access log: {source}", path.display())]
pub struct AccessLogError {
    /// The file.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: io::Error,
}

/// The handle the server records responses with.
#[derive(Debug, Clone)]
pub struct AccessLog {
    queue: SyncSender<Entry>,
    reopen: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Opens `target` (an error here stops the start) and starts the writer thread.
    pub fn open(target: Target) -> Result<AccessLog, AccessLogError> {
        let path = match &target {
            Target::File(path) => path.clone(),
            Target::Stdout => PathBuf::from("-"),
        };
        let out = target.open().map_err(|source| AccessLogError {
            path: path.clone(),
            source,
        })?;
        let (queue, lines) = sync_channel(QUEUE);
        let log = AccessLog {
            queue,
            reopen: Arc::new(AtomicBool::new(false)),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        let reopen = Arc::clone(&log.reopen);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(target, out, lines, &reopen))
            .map_err(|source| AccessLogError { path, source })?;
        Ok(log)
    }

    /// Queues the line of `entry`; never waits. A full queue drops it (and counts it).
    pub fn record(&self, entry: Entry) {
        if let Err(TrySendError::Full(_)) = self.queue.try_send(entry) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Asks the writer to reopen the file before its next line (SIGHUP, after logrotate).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    /// How many lines were dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The lines dropped since the last call (for a counter that adds them up).
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// How often the writer looks for lines: it sleeps in between instead of being woken by
/// each one, so a response costs a queue push and no thread wake-up (waking it per line took
/// half of the 304 throughput of one core in `bench/serve.sh --ops`).
const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// The writer thread: every [`DRAIN_EVERY`] it writes the lines waiting, through a buffer,
/// and flushes (a line is on disk within a moment of its response); the file is reopened
/// when asked. A write that fails (a full disk) is reported once until one succeeds again.
fn write_lines(
    target: Target,
    out: Box<dyn Write + Send>,
    lines: Receiver<Entry>,
    reopen: &AtomicBool,
) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut failing = false;
    let mut clock = Clock::default();
    let mut line = Vec::with_capacity(512);
    loop {
        std::thread::sleep(DRAIN_EVERY);
        if reopen.swap(false, Ordering::Relaxed) {
            let _ = out.flush();
            match target.open() {
                Ok(file) => {
                    out = BufWriter::with_capacity(64 * 1024, file);
                    tracing::info!("access log reopened");
                }
                Err(e) => tracing::error!(
                    "{target:?}: cannot reopen the access log: {e}; writing to the old file"
                ),
            }
        }
        let mut result = Ok(());
        let mut wrote = false;
        let closed = loop {
            match lines.try_recv() {
                Ok(entry) => {
                    line.clear();
                    write_line(&mut line, &entry, &mut clock);
                    result = result.and_then(|()| out.write_all(&line));
                    wrote = true;
                }
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        if wrote {
            match result.and_then(|()| out.flush()) {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(
                        "{target:?}: cannot write the access log: {e}; lines are lost until it can"
                    );
                }
                Err(_) => {}
            }
        }
        if closed {
            break;
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(target: &'a str, user_agent: &'a [u8]) -> Response<'a> {
        Response {
            client: "203.0.113.7".parse().unwrap(),
            time: std::time::UNIX_EPOCH + Duration::from_secs(1_796_149_800),
            method: "GET",
            target,
            version: "HTTP/1.1",
            status: 304,
            bytes: 0,
            referer: None,
            user_agent: Some(user_agent),
        }
    }

    #[test]
    fn a_line_is_in_the_combined_format() {
        assert_eq!(
            combined_line(&entry("/rss.xml", b"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers)")),
            "203.0.113.7 - - [01/Dec/2026:18:30:00 +0000] \"GET /rss.xml HTTP/1.1\" 304 0 \"-\" \"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers)\"\n"
        );
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "203.0.113.7",
            "255.255.255.255",
            "10.0.0.1",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            address(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
    }

    #[test]
    fn hostile_text_is_escaped_and_cut_and_never_breaks_the_line() {
        let line = combined_line(&entry(
            "/x\" 200 0 \"-\" \"forged\n203.0.113.9 - - [x] \"GET / HTTP/1.1\"",
            b"a\"b\\c\r\nd\x00\xff",
        ));
        assert_eq!(line.matches('\n').count(), 1);
        assert!(
            line.ends_with("\"a\\\"b\\\\c\\x0D\\x0Ad\\x00\\xFF\"\n"),
            "{line}"
        );
        assert!(
            line.contains("/x\\\" 200 0 \\\"-\\\" \\\"forged\\x0A203.0.113.9"),
            "{line}"
        );
        let long = combined_line(&entry(&"a".repeat(10_000), &[b'u'; 10_000]));
        assert!(long.len() < MAX_TARGET + MAX_HEADER + 200, "{}", long.len());
        assert!(long.contains("a..."));
        assert!(long.contains("u...\""));
    }

    #[test]
    fn lines_reach_the_file_and_a_reopen_follows_logrotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::open(Target::File(path.clone())).unwrap();
        log.record(Entry::new(&entry("/one", b"ua")));
        let wait_for = |path: &Path, text: &str| {
            for _ in 0..200 {
                if std::fs::read_to_string(path).is_ok_and(|t| t.contains(text)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("{text} never reached {}", path.display());
        };
        wait_for(&path, "/one");
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        log.reopen();
        log.record(Entry::new(&entry("/two", b"ua")));
        wait_for(&path, "/two");
        let rotated = std::fs::read_to_string(dir.path().join("access.log.1")).unwrap();
        assert!(!rotated.contains("/two"));
        assert_eq!(log.dropped(), 0);
        let missing = AccessLog::open(Target::File(dir.path().join("no/such/dir/log")));
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("no/such/dir/log: cannot open the access log"));
    }
}
