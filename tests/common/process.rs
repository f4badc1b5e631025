//! The `feedpub` binary as a process: one-shot runs (`build`, `check`) and `feedpub serve`
//! as a child process whose output is collected, which is waited for (its banner, or
//! `/healthz`), signalled, and killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::client::try_get;
use crate::common::wait::poll_for;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_feedpub");

/// The first line `feedpub serve` prints, before the address.
pub const SERVING_ON: &str = "feedpub is serving on http://";

/// The same line when the server speaks TLS.
pub const SERVING_ON_TLS: &str = "feedpub is serving on https://";

/// A command for the binary, run in `cwd`.
pub fn feedpub(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(cwd);
    command
}

/// The outcome of one run of the binary.
pub struct Run {
    /// The exit code (a run killed by a signal fails the test).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Runs `command` to its end and collects its output.
    pub fn of(command: &mut Command) -> Run {
        let output = command.output().expect("the feedpub binary runs");
        Run {
            code: output.status.code().expect("feedpub exited by a signal"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Both streams, for messages whose stream is not part of the contract.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `feedpub SUBCOMMAND --config CONFIG` in the configuration's folder.
pub fn run_with_config(subcommand: &str, config: &Path) -> Run {
    let cwd = config.parent().expect("the configuration is in a folder");
    Run::of(feedpub(cwd).arg(subcommand).arg("--config").arg(config))
}

/// `feedpub serve --config CONFIG` run in the configuration's folder with `RUST_LOG=info`
/// and no standard input; add arguments or change the environment before
/// [`ServerProcess::spawn`].
pub fn serve_command(config: &Path) -> Command {
    let cwd = config.parent().expect("the configuration is in a folder");
    let mut command = feedpub(cwd);
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command
}

/// Reads `pipe` to its end on a thread, into the returned buffer, so that the child never
/// blocks on a full pipe.
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

/// A running `feedpub serve`. Its standard output is read line by line (kept, and handed
/// to the waits for the banner) and its standard error is kept; the process is killed
/// and reaped when this is dropped.
pub struct ServerProcess {
    /// The child process.
    pub child: Child,
    /// The address it announced, once [`ServerProcess::wait_for_address`] has seen it (or
    /// the one it was started on).
    pub addr: Option<SocketAddr>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    lines: Receiver<String>,
}

impl ServerProcess {
    /// Spawns `command` (usually from [`serve_command`]) with standard output and error
    /// piped and collected.
    pub fn spawn(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn feedpub serve");
        let stderr = drain(child.stderr.take());
        let stdout_pipe = child.stdout.take().expect("piped stdout");
        let stdout = Arc::new(Mutex::new(String::new()));
        let (lines_tx, lines) = mpsc::channel::<String>();
        let rest = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout_pipe).lines() {
                let Ok(line) = line else { break };
                rest.lock().unwrap().push_str(&format!("{line}\n"));
                // Once nobody listens, keep draining so the child never blocks.
                let _ = lines_tx.send(line);
            }
        });
        ServerProcess {
            child,
            addr: None,
            stdout,
            stderr,
            lines,
        }
    }

    /// Spawns `feedpub serve --config CONFIG` and waits (at most `timeout`) for the address
    /// it announces.
    pub fn start(config: &Path, timeout: Duration) -> ServerProcess {
        let mut server = ServerProcess::spawn(serve_command(config));
        server.wait_for_address(timeout);
        server
    }

    /// The announced address; panics when none was seen yet.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("the server's address is not known yet")
    }

    /// Waits (at most `timeout`) for a line of standard output for which `done` holds,
    /// noting the address of a `feedpub is serving on` line on the way; panics with the
    /// output so far when the time runs out or the output ends.
    pub fn wait_for_line(&mut self, timeout: Duration, mut done: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let rest = line
                        .strip_prefix(SERVING_ON)
                        .or_else(|| line.strip_prefix(SERVING_ON_TLS));
                    if let Some(rest) = rest {
                        self.addr =
                            Some(rest.trim().parse().unwrap_or_else(|e| {
                                panic!("bad address in {line:?}: {e}")
                            }));
                    }
                    if done(&line) {
                        return;
                    }
                }
                Err(_) => panic!(
                    "the expected start-up output did not come within {timeout:?}; status {:?}; stdout:\n{}\nstderr:\n{}",
                    self.child.try_wait(),
                    self.stdout(),
                    self.stderr()
                ),
            }
        }
    }

    /// Waits (at most `timeout`) for the first line, `feedpub is serving on http://ADDR`;
    /// returns the address.
    pub fn wait_for_address(&mut self, timeout: Duration) -> SocketAddr {
        self.wait_for_line(timeout, |line| {
            line.starts_with(SERVING_ON) || line.starts_with(SERVING_ON_TLS)
        });
        self.addr()
    }

    /// Waits (at most `timeout`) until the whole start-up banner is printed: its last line,
    /// `index page:`, comes right before the server starts waiting for SIGTERM and SIGINT.
    pub fn wait_for_banner(&mut self, timeout: Duration) -> SocketAddr {
        self.wait_for_line(timeout, |line| line.trim_start().starts_with("index page:"));
        self.addr.unwrap_or_else(|| {
            panic!(
                "no `feedpub is serving on` line; stdout:\n{}",
                self.stdout()
            )
        })
    }

    /// Waits (at most `timeout`) until `GET /healthz` at `addr` answers 200, and takes
    /// `addr` as the server's address.
    pub fn wait_healthy(&mut self, addr: SocketAddr, timeout: Duration) {
        let healthy = poll_for(timeout, || {
            try_get(addr, "/healthz")
                .is_ok_and(|r| r.status == 200)
                .then_some(())
        });
        if healthy.is_none() {
            panic!(
                "the server did not come up at {addr} within {timeout:?}; status {:?}; stderr:\n{}",
                self.child.try_wait(),
                self.stderr()
            );
        }
        self.addr = Some(addr);
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends signal `signal` (such as `libc::SIGHUP`) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill only sends a signal to our own child.
        let sent = unsafe { libc::kill(self.pid() as i32, signal) };
        assert_eq!(sent, 0, "kill -{signal} {}", self.pid());
    }

    /// Forces a regeneration now (SIGHUP).
    pub fn hup(&self) {
        self.signal(libc::SIGHUP);
    }

    /// The exit status, when the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        self.exited().is_none()
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = poll_for(timeout, || self.exited())?;
        // Let the drain threads catch the last output.
        std::thread::sleep(Duration::from_millis(100));
        Some(status)
    }

    /// Everything the process wrote on standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything the process wrote on standard error so far (its log).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Kills the process and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `feedpub serve --config CONFIG` to its exit (at most 30 s): status, stdout, stderr.
pub fn serve_to_exit(config: &Path) -> (ExitStatus, String, String) {
    let mut server = ServerProcess::spawn(serve_command(config));
    let status = server
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("feedpub serve did not exit; stderr:\n{}", server.stderr()));
    (status, server.stdout(), server.stderr())
}

/// Waits (at most `timeout`) until process `pid` catches signal number `signal`, read from
/// the `SigCgt` mask in `/proc/PID/status`. `feedpub serve` prints its banner before it
/// installs its handlers, and a signal that arrives before then kills it; tests of what the
/// handlers do wait here first.
pub fn wait_until_catching(pid: u32, signal: i32, timeout: Duration) {
    let caught = poll_for(timeout, || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())?;
        (mask & (1 << (signal - 1)) != 0).then_some(())
    });
    assert!(
        caught.is_some(),
        "timed out after {timeout:?} waiting for process {pid} to catch signal {signal}"
    );
}

/// A free TCP port on 127.0.0.1 (free when asked; another process may take it later).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("a local address").port()
}
