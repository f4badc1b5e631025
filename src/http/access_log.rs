//! The access log: one line per response in the combined log format of nginx and Apache,
//! written by a thread of its own so that no request waits on the disk, and reopened on
//! SIGHUP so that logrotate can move the file away.
//!
//! Everything a client sends is escaped the way nginx escapes it (`"`, `\` and bytes outside
//! printable ASCII as `\xHH`) and cut to a bounded length, so no request line or User-Agent
//! can forge a line, break one, or make one huge.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// The longest request target logged, in bytes; longer ones are cut (and end in `...`).
pub const MAX_TARGET: usize = 2048;

/// The longest `Referer` or `User-Agent` logged, in bytes.
pub const MAX_HEADER: usize = 1024;

/// How many bytes of lines one shard holds for the writer; past it new lines are dropped
/// (and counted) until the writer has taken them. With [`DRAIN_EVERY`], this lets one shard
/// log some 100,000 lines a second.
pub const SHARD_BYTES: usize = 1 << 20;

/// One response, as the log line tells it: a view of the request, borrowed while the line
/// is written.
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

/// Appends the combined-format line of `response` with its newline:
/// `ADDR - - [01/Dec/2026:18:30:00 +0000] "GET /rss.xml HTTP/1.1" 304 0 "-" "UA"`, with what
/// the client sent escaped and cut. Without the formatting machinery: `write!` of the
/// address and the time took 1,500 instructions of a 304's 18,000 (callgrind,
/// `bench/profile_serve.sh --variant ops`).
fn write_line(out: &mut Vec<u8>, response: &Response<'_>, clock: &mut Clock) {
    let header_len = |h: Option<&[u8]>| h.map_or(1, |v| 4 * v.len().min(MAX_HEADER) + 3);
    out.reserve(
        4 * response.target.len().min(MAX_TARGET)
            + header_len(response.referer)
            + header_len(response.user_agent)
            + 200,
    );
    address(out, response.client);
    out.extend_from_slice(b" - - [");
    out.extend_from_slice(clock.format(response.time));
    out.extend_from_slice(b"] \"");
    let method = response.method.as_bytes();
    if method.len() <= 32 && method.iter().all(u8::is_ascii_uppercase) {
        // GET, HEAD, ...: nothing to escape.
        out.extend_from_slice(method);
    } else {
        escaped(out, method, 32);
    }
    out.push(b' ');
    escaped(out, response.target.as_bytes(), MAX_TARGET);
    out.push(b' ');
    out.extend_from_slice(response.version.as_bytes());
    out.extend_from_slice(b"\" ");
    decimal(out, u64::from(response.status));
    out.push(b' ');
    decimal(out, response.bytes);
    for header in [response.referer, response.user_agent] {
        out.extend_from_slice(b" \"");
        match header {
            Some(value) if !value.is_empty() => escaped(out, value, MAX_HEADER),
            _ => out.push(b'-'),
        }
        out.push(b'"');
    }
    out.push(b'\n');
}

/// Appends `n` in decimal (with `itoa`: a loop of divisions by ten took 390 instructions of
/// the six numbers of a line).
fn decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `bytes` escaped as nginx does, cut to `max` bytes of input (`...` marks a cut):
/// runs of printable ASCII are copied whole, `"` and `\` get a backslash, any other byte
/// becomes `\xHH`. Plain bytes are skipped eight at a time ([`all_plain`]): a byte at a time
/// took ten instructions per byte, a User-Agent's 60–100 bytes most of a line's cost.
fn escaped(out: &mut Vec<u8>, bytes: &[u8], max: usize) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let kept = &bytes[..bytes.len().min(max)];
    let mut run = 0;
    let mut i = 0;
    while i < kept.len() {
        if let Some(word) = kept.get(i..i + 8) {
            if all_plain(u64::from_le_bytes(word.try_into().unwrap_or_default())) {
                i += 8;
                continue;
            }
        }
        let b = kept[i];
        if !is_plain(b) {
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
        i += 1;
    }
    out.extend_from_slice(&kept[run..]);
    if bytes.len() > max {
        out.extend_from_slice(b"...");
    }
}

/// Whether `b` is logged as it is: printable ASCII but `"` and `\`.
fn is_plain(b: u8) -> bool {
    matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\'
}

/// Whether all eight bytes of `word` are [`is_plain`], tested at once: no byte with the high
/// bit, below 0x20, or equal to `"`, `\` or DEL (the classic exact tests for "some byte is
/// zero" and "some byte is less than n", n ≤ 128).
fn all_plain(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let has_less = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH;
    (word & HIGH)
        | has_less(word, 0x20)
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\')))
        | has_zero(word ^ (ONES * 0x7f))
        == 0
}

/// The time field of the current second, formatted once per second.
#[derive(Debug, Default)]
struct Clock {
    second: Option<i64>,
    text: Vec<u8>,
}

impl Clock {
    fn format(&mut self, time: SystemTime) -> &[u8] {
        let second = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if self.second != Some(second) {
            self.second = Some(second);
            let time: DateTime<Utc> = time.into();
            self.text = time
                .format("%d/%b/%Y:%H:%M:%S +0000")
                .to_string()
                .into_bytes();
        }
        &self.text
    }
}

/// The combined-format line of `response`, with its newline (see [`AccessLog::record`]).
pub fn combined_line(response: &Response<'_>) -> String {
    let mut line = Vec::with_capacity(160);
    write_line(&mut line, response, &mut Clock::default());
    // Every byte of a line is printable ASCII or the newline (see `escaped`).
    String::from_utf8_lossy(&line).into_owned()
}

/// Appends `ip` as text: IPv4 by hand (nearly every client), IPv6 through `Display`.
fn address(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
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

    fn open(&self) -> io::Result<Sink> {
        match self {
            Target::Stdout => Ok(Sink::Stdout(io::stdout())),
            Target::File(path) => {
                let file: File = OpenOptions::new().create(true).append(true).open(path)?;
                Ok(Sink::File(file))
            }
        }
    }
}

/// The open log.
enum Sink {
    Stdout(io::Stdout),
    File(File),
}

impl Sink {
    /// Writes `lines` (whole lines) and flushes. When the write fails partway (a full
    /// disk), a file is cut back to its length before, so that it never ends in part of a
    /// line that the next lines would be glued to.
    fn write_lines(&mut self, lines: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.write_all(lines).and_then(|()| out.flush()),
            Sink::File(file) => {
                let before = file.metadata().map(|m| m.len());
                let result = file.write_all(lines);
                if let (Err(_), Ok(len)) = (&result, before) {
                    let _ = file.set_len(len);
                }
                result
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.flush(),
            Sink::File(file) => file.flush(),
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

/// The lines one group of threads wrote since the writer last came, and that group's clock.
#[derive(Debug, Default)]
struct Shard {
    lines: Vec<u8>,
    clock: Clock,
}

/// What the request threads and the writer share.
#[derive(Debug)]
struct Shared {
    /// One buffer per few threads: a request thread appends its line to its own shard under
    /// a lock nobody else wants (the writer takes it for a swap every [`DRAIN_EVERY`]).
    shards: Box<[Mutex<Shard>]>,
    reopen: AtomicBool,
    closing: AtomicBool,
    dropped: AtomicU64,
}

/// Locks `shard`; a panic elsewhere while it was held leaves whole bytes behind, so the
/// buffer is used as it is.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shard of the calling thread: threads are numbered as they first log, so the tokio
/// workers (numbered first) each get one of their own.
fn shard_number(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|n| *n) % shards
}

/// The writer thread, stopped and waited for when the last handle goes (a clean shutdown
/// writes every line).
#[derive(Debug)]
struct Writer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The handle the server records responses with.
#[derive(Debug, Clone)]
pub struct AccessLog {
    writer: Arc<Writer>,
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
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        let shared = Arc::new(Shared {
            shards: (0..(2 * threads).max(4))
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            reopen: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        });
        let for_writer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(target, out, &for_writer))
            .map_err(|source| AccessLogError { path, source })?;
        Ok(AccessLog {
            writer: Arc::new(Writer {
                shared,
                thread: Some(thread),
            }),
        })
    }

    /// Writes the line of `response` (see [`combined_line`]) into the calling thread's
    /// shard: no allocation, no queue, no wake-up; never waits for the disk. A shard the
    /// writer has not emptied in time ([`SHARD_BYTES`]) drops the line and counts it.
    pub fn record(&self, response: &Response<'_>) {
        let shards = &self.writer.shared.shards;
        let mut shard = lock(&shards[shard_number(shards.len())]);
        if shard.lines.len() >= SHARD_BYTES {
            drop(shard);
            self.writer.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Shard { lines, clock } = &mut *shard;
        write_line(lines, response, clock);
    }

    /// Asks the writer to reopen the file before its next line (SIGHUP, after logrotate).
    pub fn reopen(&self) {
        self.writer.shared.reopen.store(true, Ordering::Relaxed);
    }

    /// How many lines were dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.writer.shared.dropped.load(Ordering::Relaxed)
    }

    /// The lines dropped since the last call (for a counter that adds them up).
    pub fn take_dropped(&self) -> u64 {
        self.writer.shared.dropped.swap(0, Ordering::Relaxed)
    }
}

/// How often the writer takes the lines: it sleeps in between instead of being woken by
/// each one, so a response costs no thread wake-up (waking it per line took half of the 304
/// throughput of one core in `bench/serve.sh --ops`). A line is in the file within a moment
/// of its response; lines of different threads may interleave out of time order by that
/// much, as nginx's workers' do.
const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// The writer thread: every [`DRAIN_EVERY`] it swaps each shard's lines for an empty buffer
/// and writes them; the file is reopened when asked. A write that fails (a full disk) is
/// reported once until one succeeds again. On closing it takes the last lines and stops.
fn write_lines(target: Target, mut out: Sink, shared: &Shared) {
    let mut failing = false;
    let mut spare = Vec::with_capacity(64 * 1024);
    loop {
        std::thread::park_timeout(DRAIN_EVERY);
        let closing = shared.closing.load(Ordering::Relaxed);
        if shared.reopen.swap(false, Ordering::Relaxed) {
            let _ = out.flush();
            match target.open() {
                Ok(file) => {
                    out = file;
                    tracing::info!("access log reopened");
                }
                Err(e) => tracing::error!(
                    "{target:?}: cannot reopen the access log: {e}; writing to the old file"
                ),
            }
        }
        let mut result = Ok(());
        let mut wrote = false;
        for shard in shared.shards.iter() {
            {
                let mut shard = lock(shard);
                if shard.lines.is_empty() {
                    continue;
                }
                std::mem::swap(&mut shard.lines, &mut spare);
            }
            result = result.and_then(|()| out.write_lines(&spare));
            spare.clear();
            wrote = true;
        }
        if wrote {
            match result {
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
        if closing {
            break;
        }
    }
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

    /// The escaping of one byte at a time, as nginx describes it.
    fn escaped_slowly(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                0x20..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02X}").as_bytes()),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn eight_bytes_at_a_time_escape_as_one_at_a_time(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            plain in proptest::collection::vec(0x20u8..0x7f, 0..40),
            at in 0usize..40,
        ) {
            // Mostly printable text with hostile bytes in it, and random bytes.
            let mut mixed = plain.clone();
            mixed.splice(at.min(plain.len())..at.min(plain.len()), bytes.iter().copied().take(3));
            for input in [&bytes, &plain, &mixed] {
                let mut fast = Vec::new();
                escaped(&mut fast, input, usize::MAX);
                proptest::prop_assert_eq!(&fast, &escaped_slowly(input));
            }
        }
    }

    #[test]
    fn every_byte_value_is_tested_as_plain_in_every_position() {
        for b in 0..=255u8 {
            for position in 0..8 {
                let mut word = *b"abcdefgh";
                word[position] = b;
                assert_eq!(
                    all_plain(u64::from_le_bytes(word)),
                    is_plain(b),
                    "{b:#x} at {position}"
                );
            }
        }
    }

    #[test]
    fn every_line_is_written_or_counted_and_closing_writes_the_last_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::open(Target::File(path.clone())).unwrap();
        let agent = [b'u'; MAX_HEADER];
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        log.record(&entry(&format!("/t{t}/{i}"), &agent));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let dropped = log.dropped();
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(dropped > 0, "40 MB in a moment should overflow the shards");
        assert_eq!(lines.len() as u64 + dropped, 40_000);
        for line in &lines {
            assert!(line.starts_with("203.0.113.7 - - ["), "{line}");
            assert!(line.ends_with("u\""), "{line}");
        }
        // One thread's lines stay in its order.
        let mine: Vec<usize> = lines
            .iter()
            .filter_map(|l| l.split("/t2/").nth(1))
            .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn lines_reach_the_file_and_a_reopen_follows_logrotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::open(Target::File(path.clone())).unwrap();
        log.record(&entry("/one", b"ua"));
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
        log.record(&entry("/two", b"ua"));
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
