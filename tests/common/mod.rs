//! The shared test harness. Each module owns one job:
//!
//! - [`workspace`]: temporary folders with `articles/`, an output folder and
//!   `feedpub.toml`; article text builders; the fixture corpora.
//! - [`process`]: the `feedpub` binary run for `build` and `check`, and `feedpub serve` as
//!   a child process.
//! - [`client`]: a raw HTTP/1.1 client and response parsers; gzip and brotli decoding.
//! - [`feeds`]: well-formedness, and feed checks over `feed-rs`'s neutral model shared by
//!   RSS, Atom and JSON Feed.
//! - [`tls`]: a test certificate authority and a real TLS handshake with one request.
//! - [`wait`]: bounded polling.
//!
//! Every test file includes it with `mod common;` and uses what it needs.

#![allow(dead_code, unused_imports)]

pub mod client;
pub mod feeds;
pub mod process;
pub mod tls;
pub mod wait;
pub mod workspace;

pub use client::*;
pub use feeds::*;
pub use process::*;
pub use tls::*;
pub use wait::*;
pub use workspace::*;
