//! The fuzz targets' oracles on every `cargo test`: each input kept in
//! `tests/fixtures/fuzz/<target>/` (crashes once found and a sample of the minimized corpus,
//! see `reliability/fuzz.sh`) and each seed of `fuzz/seeds/` is checked by the same code the
//! fuzz target runs, `fuzz/oracles/<target>.rs`, included here as a module:
//!
//! - `user_agent`: the User-Agent parser of the statistics;
//! - `logline`: the combined-log-line parser of `feedpub stats import`, against the server's
//!   own access-log lines;
//! - `config`: the configuration parser;
//! - `urls`: the request-path parser and the path builders;
//! - `http_head`: hyper and the handler over one in-memory connection.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../fuzz/oracles/config.rs"]
mod config;
#[path = "../fuzz/oracles/http_head.rs"]
mod http_head;
#[path = "../fuzz/oracles/logline.rs"]
mod logline;
#[path = "../fuzz/oracles/urls.rs"]
mod urls;
#[path = "../fuzz/oracles/user_agent.rs"]
mod user_agent;

/// `path` inside the repository.
fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// One target's oracle.
type Oracle = fn(&[u8]) -> Result<(), String>;

/// The inputs of `target`: every file of its fixture folder and of its seed folder, and each
/// line of its seed list (`fuzz/seeds/<target>.txt`, one input a line).
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    for folder in [
        repo("tests/fixtures/fuzz").join(target),
        repo("fuzz/seeds").join(target),
    ] {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.expect("fixture entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let bytes = fs::read(&file).expect("fixture");
            inputs.push((file.display().to_string(), bytes));
        }
    }
    let list = repo("fuzz/seeds").join(format!("{target}.txt"));
    if let Ok(text) = fs::read_to_string(&list) {
        for (i, line) in text.lines().enumerate() {
            inputs.push((
                format!("{}:{}", list.display(), i + 1),
                line.as_bytes().to_vec(),
            ));
        }
    }
    inputs
}

/// Runs `oracle` over every input of `target`; a violation or a panic fails the test with
/// the input's name. `at_least` guards against a folder that went missing.
fn replay(target: &str, oracle: Oracle, at_least: usize) {
    let inputs = inputs(target);
    assert!(
        inputs.len() >= at_least,
        "{target}: {} inputs, expected at least {at_least}",
        inputs.len()
    );
    let mut failures = Vec::new();
    for (name, bytes) in &inputs {
        match catch_unwind(AssertUnwindSafe(|| oracle(bytes))) {
            Ok(Ok(())) => {}
            Ok(Err(violation)) => failures.push(format!("{name}: {violation}")),
            Err(_) => failures.push(format!("{name}: panicked")),
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs break the contract:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn every_kept_user_agent_keeps_the_contract() {
    replay("user_agent", user_agent::check, 20);
}

#[test]
fn every_kept_log_line_keeps_the_contract() {
    replay("logline", logline::check, 5);
}

#[test]
fn every_kept_configuration_keeps_the_contract() {
    replay("config", config::check, 3);
}

#[test]
fn every_kept_path_keeps_the_contract() {
    replay("urls", urls::check, 20);
}

#[test]
fn every_kept_request_head_keeps_the_contract() {
    replay("http_head", http_head::check, 3);
}

/// The oracles must catch what they are there to catch, and see what a real client sees.
#[test]
fn the_http_oracle_reads_real_answers_and_rejects_broken_ones() {
    let answer = http_head::exchange(
        b"GET /rss.xml HTTP/1.1\r\nHost: feeds.example.org\r\n\r\n\
          HEAD /atom.xml HTTP/1.1\r\nHost: feeds.example.org\r\n\r\n\
          GET /archive/rss/1.xml HTTP/1.1\r\nHost: feeds.example.org\r\n\r\n\
          GET /index.xml HTTP/1.1\r\nHost: feeds.example.org\r\n\r\n\
          GET /retired.xml HTTP/1.1\r\nHost: feeds.example.org\r\n\r\n\
          GET /nowhere HTTP/1.1\r\nHost: feeds.example.org\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        http_head::check_responses(&answer),
        Ok(vec![200, 200, 200, 301, 410, 404])
    );
    let garbage = http_head::exchange(b"\x00\x01 not http\r\n\r\n").unwrap();
    assert_eq!(http_head::check_responses(&garbage), Ok(vec![400]));
    for broken in [
        &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab"[..],
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nx: a\x01b\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n",
        b"HTTP/2 200\r\n\r\n",
    ] {
        assert!(
            http_head::check_responses(broken).is_err(),
            "{:?}",
            String::from_utf8_lossy(broken)
        );
    }
}
