//! Bounded polling: look again every [`POLL`] until a condition holds or time runs out;
//! and running such blocking waits (or the blocking HTTP client) from async tests.

use std::time::{Duration, Instant};

/// How long any polling wait lasts at most, unless a test says otherwise.
pub const WAIT: Duration = Duration::from_secs(5);

/// How often polling waits look again.
pub const POLL: Duration = Duration::from_millis(50);

/// Calls `check` every [`POLL`] until it returns `Some`, for at most `timeout`; `None`
/// when time runs out (the caller panics with its own context).
pub fn poll_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Calls `check` every [`POLL`] until it returns `Some`, for at most `timeout`; panics
/// naming `what` when time runs out.
pub fn wait_for<T>(timeout: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll_for(timeout, check)
        .unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// Calls `done` every [`POLL`] until it returns true, for at most `timeout`; panics naming
/// `what` when time runs out.
pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    wait_for(timeout, what, || done().then_some(()))
}

/// Runs blocking code (the HTTP client, a polling wait) off an async test's runtime
/// workers; a panic inside fails the test with its own message.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
