//! Black-box tests of `feedpub serve` as a process: signals (SIGTERM with a response in
//! flight, SIGHUP) and start-up failures. Every child is killed by a guard when a test ends.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_feedpub");

/// How long a start-up may take: the big corpus is compressed three ways by a debug build.
const STARTUP: Duration = Duration::from_secs(180);

/// A spawned child whose stderr (and, unless taken, stdout) is drained into buffers, so it
/// never blocks on a full pipe; killed and reaped when dropped.
struct Guard {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Arc<Mutex<String>> {
    let sink = Arc::new(Mutex::new(String::new()));
    if let Some(mut pipe) = pipe {
        let sink = Arc::clone(&sink);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
    }
    sink
}

impl Guard {
    /// Spawns `feedpub serve --config <config>` in `dir`, stdout and stderr piped; stdout
    /// is left to the caller when `keep_stdout`.
    fn serve(config: &Path, dir: &Path, keep_stdout: bool) -> Guard {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn feedpub serve");
        let stderr = drain(child.stderr.take());
        let stdout = if keep_stdout {
            Arc::new(Mutex::new(String::new()))
        } else {
            drain(child.stdout.take())
        };
        Guard {
            child,
            stdout,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for the process to exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the drain threads catch the last output.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends `signal` (such as `TERM` or `HUP`) with `kill`.
    fn signal(&self, signal: &str) {
        let pid = self.child.id();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid} failed: {status}");
    }

    /// Still running?
    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `feedpub serve` and the address it announced.
struct ServeProcess {
    guard: Guard,
    addr: SocketAddr,
}

impl ServeProcess {
    /// Starts `feedpub serve --config <fixture's config>` and waits until the whole start-up
    /// banner is printed (the last line, `index page:`, comes right before the server
    /// starts waiting for SIGTERM and SIGINT).
    fn start(fixture: &Fixture) -> ServeProcess {
        ServeProcess::spawn(fixture, true)
    }

    /// Like [`ServeProcess::start`], but returns as soon as the first line,
    /// `feedpub is serving on http://ADDR`, arrives.
    fn start_announced(fixture: &Fixture) -> ServeProcess {
        ServeProcess::spawn(fixture, false)
    }

    fn spawn(fixture: &Fixture, whole_banner: bool) -> ServeProcess {
        let mut guard = Guard::serve(&fixture.config, fixture.root(), true);
        let stdout = guard.child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        let rest = Arc::clone(&guard.stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                rest.lock().unwrap().push_str(&format!("{line}\n"));
                // Once nobody listens, keep draining so the child never blocks.
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + STARTUP;
        let mut addr = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("feedpub is serving on http://") {
                        addr = Some(
                            rest.trim()
                                .parse::<SocketAddr>()
                                .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}")),
                        );
                    }
                    let done = if whole_banner {
                        line.trim_start().starts_with("index page:")
                    } else {
                        addr.is_some()
                    };
                    if done {
                        break;
                    }
                }
                Err(_) => panic!(
                    "no complete start-up banner within {STARTUP:?}; status {:?}; stdout:\n{}\nstderr:\n{}",
                    guard.child.try_wait(),
                    guard.stdout(),
                    guard.stderr()
                ),
            }
        }
        let addr = addr.unwrap_or_else(|| {
            panic!(
                "no `feedpub is serving on` line; stdout:\n{}",
                guard.stdout()
            )
        });
        ServeProcess { guard, addr }
    }
}

/// Runs `feedpub serve` to its exit (at most 30 s): status, stdout, stderr.
fn serve_to_exit(fixture: &Fixture) -> (ExitStatus, String, String) {
    let mut guard = Guard::serve(&fixture.config, fixture.root(), false);
    let status = guard
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("feedpub serve did not exit; stderr:\n{}", guard.stderr()));
    (status, guard.stdout(), guard.stderr())
}

/// Is nothing listening at `addr` any more?
fn refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// Writes `count` generated articles of about 1.3 KB each.
fn write_big_corpus(fixture: &Fixture, count: u64) {
    let paragraph = "The municipal council met on Tuesday to discuss the new traffic plan, which \
        includes wider pavements, more bus lanes and a ban on lorries in the old town during \
        the morning rush hour. "
        .repeat(3);
    let base = chrono::NaiveDate::from_ymd_opt(2015, 1, 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    for i in 0..count {
        let when = base + chrono::Duration::hours(7 * i as i64);
        let text = article_text(
            100_000 + i,
            &format!("Generated story number {i}"),
            when,
            &[format!("{paragraph}Story {i}."), paragraph.clone()],
        );
        fixture.write_article(&format!("gen_{i:05}.txt"), &text);
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_lets_an_in_flight_response_finish_then_exits_zero() {
    let fixture = Fixture::empty("max_items = 3000");
    write_big_corpus(&fixture, 3000);
    let mut server = ServeProcess::start(&fixture);
    let addr = server.addr;

    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(
            format!("GET /rss.xml HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    // Read the head and only a few KB of the body.
    let mut received = Vec::new();
    let mut buf = [0u8; 2048];
    while find(&received, b"\r\n\r\n").is_none() || received.len() < 6 * 1024 {
        let n = stream
            .read(&mut buf)
            .expect("read the start of the response");
        assert!(n > 0, "the connection closed early");
        received.extend_from_slice(&buf[..n]);
    }
    let head_end = find(&received, b"\r\n\r\n").unwrap() + 4;
    let head = parse_response(&received[..head_end], true);
    assert_eq!(head.status, 200);
    let content_length: usize = head
        .expect_header("content-length")
        .parse()
        .expect("a numeric Content-Length");
    assert!(
        content_length > 3_000_000,
        "the feed should be several MB, is {content_length} bytes"
    );

    wait_until_catching(server.guard.child.id(), SIGTERM);
    server.guard.signal("TERM");
    // The server stops listening while our response is still being sent...
    wait_for(WAIT, "new connections to be refused after SIGTERM", || {
        refused(addr).then_some(())
    });
    assert!(
        received.len() - head_end < content_length,
        "the response was complete before SIGTERM; the test needs a bigger feed"
    );
    // ...and still finishes it.
    stream
        .read_to_end(&mut received)
        .expect("read the rest of the in-flight response");
    let status = server.guard.wait_exit(Duration::from_secs(15));
    let body = &received[head_end..];
    assert_eq!(
        body.len(),
        content_length,
        "the in-flight response was cut short; exit status {status:?}; stderr:\n{}",
        server.guard.stderr()
    );
    check_well_formed(body).expect("the in-flight feed is complete XML");
    assert_eq!(parse_feed(body).entries.len(), 3000);

    let status = status.unwrap_or_else(|| {
        panic!(
            "no exit within 15 s of SIGTERM; stderr:\n{}",
            server.guard.stderr()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}; stderr:\n{}",
        server.guard.stderr()
    );
    assert!(refused(addr), "a connection was accepted after shutdown");
}

#[test]
fn sigint_shuts_down_gracefully_with_exit_0() {
    let fixture = Fixture::with_corpus("");
    let mut server = ServeProcess::start(&fixture);
    assert_eq!(get(server.addr, "/healthz", &[]).status, 200);
    wait_until_catching(server.guard.child.id(), SIGINT);
    server.guard.signal("INT");
    let status = server
        .guard
        .wait_exit(Duration::from_secs(15))
        .expect("exit within 15 s of SIGINT");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.guard.stderr());
    assert!(refused(server.addr));
}

/// Waits (at most 5 s) until process `pid` catches signal number `signal`, read from the
/// `SigCgt` mask in `/proc/PID/status`. `feedpub serve` prints its banner before it installs
/// its handlers, and a signal that arrives before then kills it (see the two
/// `*_as_soon_as_serving_is_announced_*` tests); tests of what the handlers do wait here.
fn wait_until_catching(pid: u32, signal: u32) {
    wait_for(
        WAIT,
        &format!("process {pid} to catch signal {signal}"),
        || {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let mask = status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())?;
            (mask & (1 << (signal - 1)) != 0).then_some(())
        },
    );
}

const SIGHUP: u32 = 1;
const SIGINT: u32 = 2;
const SIGTERM: u32 = 15;

/// SIGHUP regenerates even when no file event announces the change: the article is a
/// symbolic link in the articles folder to a file in a subfolder, which is not watched
/// (and `rescan_interval_secs` is an hour), so only SIGHUP can reveal the new text.
#[test]
fn sighup_regenerates_the_feeds() {
    let fixture = Fixture::with_corpus("rescan_interval_secs = 3600");
    let hidden = fixture.articles.join("sub");
    std::fs::create_dir(&hidden).unwrap();
    let target = hidden.join("real.txt");
    std::fs::write(
        &target,
        simple_article(81_001, "Before the hang-up", 20, "Old text."),
    )
    .unwrap();
    std::os::unix::fs::symlink("sub/real.txt", fixture.article_path("linked.txt")).unwrap();

    let mut server = ServeProcess::start(&fixture);
    let addr = server.addr;
    let titles = || entry_titles(&parse_feed(&get(addr, "/rss.xml", &[]).body));
    assert!(titles().iter().any(|t| t == "Before the hang-up"));
    wait_until_catching(server.guard.child.id(), SIGHUP);

    std::fs::write(
        &target,
        simple_article(81_001, "After the hang-up", 20, "New text."),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        titles().iter().any(|t| t == "Before the hang-up"),
        "the change was noticed without SIGHUP, so this test cannot tell what SIGHUP does"
    );

    server.guard.signal("HUP");
    wait_for(WAIT, "the new title after SIGHUP", || {
        titles()
            .iter()
            .any(|t| t == "After the hang-up")
            .then_some(())
    });
    assert!(server.guard.running(), "SIGHUP stopped the server");
    assert_eq!(get(addr, "/healthz", &[]).status, 200);

    // A new article in the folder followed by SIGHUP appears too (whichever notices it).
    fixture.write_article(
        "sighup_article.txt",
        &simple_article(81_002, "Published after SIGHUP", 21, "Hang-up news."),
    );
    server.guard.signal("HUP");
    wait_for(WAIT, "the new article after SIGHUP", || {
        titles()
            .iter()
            .any(|t| t == "Published after SIGHUP")
            .then_some(())
    });
    assert!(server.guard.running(), "SIGHUP stopped the server");
}

#[test]
fn startup_with_a_missing_articles_folder_fails_naming_the_folder() {
    let fixture = Fixture::empty("");
    std::fs::remove_dir(&fixture.articles).unwrap();
    let (status, stdout, stderr) = serve_to_exit(&fixture);
    assert!(!status.success(), "exit status {status}");
    let folder = fixture.articles.display().to_string();
    assert!(
        stderr.contains(&folder),
        "stderr does not name {folder}:\n{stderr}"
    );
    assert!(
        !stdout.contains("feedpub is serving"),
        "claimed to serve:\n{stdout}"
    );
}

#[test]
fn config_with_an_unknown_key_exits_2_naming_the_key() {
    let fixture = Fixture::with_corpus("titel = \"A typo\"");
    let (status, stdout, stderr) = serve_to_exit(&fixture);
    assert_eq!(
        status.code(),
        Some(2),
        "exit status {status}; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("titel"),
        "stderr does not name the key:\n{stderr}"
    );
    assert!(
        !stdout.contains("feedpub is serving"),
        "claimed to serve:\n{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// Signals that arrive as soon as the server announces itself. The announcement is the
// readiness signal a supervisor or script waits for, so signals sent right after it must
// be handled like any other. These tests do not wait for `wait_until_catching`; how often
// they catch the server before its handlers are installed depends on scheduling.
// ---------------------------------------------------------------------------------------

#[test]
fn sighup_sent_as_soon_as_serving_is_announced_does_not_kill_the_server() {
    let fixture = Fixture::with_corpus("");
    let mut server = ServeProcess::start_announced(&fixture);
    server.guard.signal("HUP");
    let ended = server.guard.wait_exit(Duration::from_millis(500));
    assert!(
        ended.is_none(),
        "SIGHUP right after `feedpub is serving` ended the process: {ended:?}; stderr:\n{}",
        server.guard.stderr()
    );
    assert_eq!(get(server.addr, "/healthz", &[]).status, 200);
}

#[test]
fn sigterm_sent_as_soon_as_serving_is_announced_exits_0() {
    let fixture = Fixture::with_corpus("");
    let mut server = ServeProcess::start_announced(&fixture);
    server.guard.signal("TERM");
    let status = server
        .guard
        .wait_exit(Duration::from_secs(15))
        .expect("exit within 15 s of SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM right after `feedpub is serving` gave {status}, not a graceful exit 0; stderr:\n{}",
        server.guard.stderr()
    );
}
