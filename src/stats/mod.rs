//! Subscriber statistics from the polls themselves: which feed was polled, by which reader,
//! from which client, recorded off the request path and kept in SQLite.
//!
//! - [`agents`]: the table of aggregator User-Agents that report subscriber counts.
//! - [`logline`]: the combined access-log format, for `feedpub stats import`.
//! - [`recorder`]: the bounded in-memory hand-off from the accept loop, and the background
//!   writer that aggregates and writes once a second in one transaction.
//! - [`store`]: the database: schema and migrations, batches, queries, the keyed hash that
//!   stands for client addresses (no raw address is ever stored).
//! - [`report`]: the figures, as JSON, as an HTML page with an SVG chart, and as a table.
//!
//! What counts: a `GET` or `HEAD` of a feed ([`is_poll_route`]) answered 200 or 304. An
//! aggregator counts what it last reported in the window (per subscription id when it sends
//! one); every other reader counts one per distinct (client, User-Agent) pair.

pub mod agents;
pub mod logline;
pub mod recorder;
pub mod report;
pub mod store;

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use ipnet::IpNet;

use crate::urls::Route;

pub use recorder::{Recorder, Writer};
pub use report::Figures;
pub use store::{ImportReport, Store};

/// The window of the current figures, in hours.
pub const WINDOW_HOURS: u64 = 24;

/// The longest User-Agent kept, in bytes; longer ones are cut at a character boundary.
pub const MAX_AGENT_BYTES: usize = 256;

/// Why the statistics cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The database could not be opened, read or migrated (corrupt, read-only, busy).
    #[error("{path}: cannot use the statistics database: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Another `feedpub serve` records into the same database.
    #[error("{path}: the statistics database is in use by another feedpub serve")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The database was made by a newer feedpub.
    #[error("{path}: the statistics database has schema version {found}; this feedpub knows up to {known}")]
    Newer {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The secret that keys the client hashes could not be read or made.
    #[error("{path}: cannot use the statistics key: {source}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the statistics writer: {source}")]
    Writer {
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file (an access log) could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No database exists yet at the configured path.
    #[error("{path}: no statistics database yet (it is made by `feedpub serve` or `feedpub stats import`)")]
    Missing {
        /// The database file.
        path: PathBuf,
    },
}

/// Whether a route is a feed whose polls are counted: the main, tag and language feeds.
/// Every kind of feed route is named here, so new feed routes are added in this one place.
pub fn is_poll_route(route: &Route) -> bool {
    matches!(route, Route::Feed(_) | Route::Tag(..) | Route::Language(..))
}

/// The path a poll of `route` is counted under.
pub fn feed_path(route: &Route) -> Cow<'static, str> {
    match route {
        Route::Feed(format) => Cow::Borrowed(format.path()),
        other => Cow::Owned(other.path().unwrap_or_default()),
    }
}

/// Whether a request for `route` answered `status` is a poll: `GET` or `HEAD` of a feed
/// answered 200 or 304. A redirect is not a poll (the request that follows it is).
pub fn is_poll(method: &str, route: &Route, status: u16) -> bool {
    (method == "GET" || method == "HEAD") && matches!(status, 200 | 304) && is_poll_route(route)
}

/// One poll, as handed from the accept loop (or an access log) to the writer. The address
/// only lives in memory until the writer replaces it with its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    /// The feed's path: borrowed for the main feeds, so that recording their polls
    /// allocates nothing but the User-Agent.
    pub feed: Cow<'static, str>,
    /// Whether the request was conditional (`If-None-Match` or `If-Modified-Since`).
    pub conditional: bool,
    /// The User-Agent, at most [`MAX_AGENT_BYTES`].
    pub agent: String,
    /// The client address.
    pub client: IpAddr,
    /// When it was answered.
    pub time: SystemTime,
}

/// `agent` cut to at most [`MAX_AGENT_BYTES`] at a character boundary.
pub fn clip_agent(agent: &str) -> &str {
    if agent.len() <= MAX_AGENT_BYTES {
        return agent;
    }
    let mut end = MAX_AGENT_BYTES;
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    &agent[..end]
}

/// The client of a request: the peer, or, when the peer is a trusted proxy, the last
/// address of `X-Forwarded-For` that is not a trusted proxy (walking from the right, as
/// each proxy appends the address it received from). An entry that is not an address
/// stops the walk at the hop before it. Addresses of untrusted peers are never taken.
pub fn client_address(peer: IpAddr, forwarded: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    let Some(forwarded) = forwarded else {
        return peer;
    };
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for entry in forwarded.rsplit(',') {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            return client;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses as IPv4, so that one client has one form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::Format;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| s.parse().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_taken_only_from_trusted_proxies() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let xff = Some("198.51.100.7, 10.1.2.3");
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_address(ip("203.0.113.9"), xff, &trusted),
            ip("203.0.113.9")
        );
        // A trusted peer: the last address that is not a trusted proxy.
        assert_eq!(
            client_address(ip("127.0.0.1"), xff, &trusted),
            ip("198.51.100.7")
        );
        // A spoofed entry left of the real client is not reached.
        let spoofed = Some("1.1.1.1, 198.51.100.7");
        assert_eq!(
            client_address(ip("10.0.0.5"), spoofed, &trusted),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the hop before it.
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("nonsense"), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("x, 10.9.9.9"), &trusted),
            ip("10.9.9.9")
        );
        // No header, or no trusted proxies at all: the peer.
        assert_eq!(
            client_address(ip("127.0.0.1"), None, &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(client_address(ip("127.0.0.1"), xff, &[]), ip("127.0.0.1"));
        // One client, one form.
        assert_eq!(
            client_address(ip("::ffff:127.0.0.3"), None, &[]),
            ip("127.0.0.3")
        );
    }

    #[test]
    fn polls_are_gets_and_heads_of_feeds_answered_200_or_304() {
        let rss = Route::Feed(Format::Rss);
        let tag = Route::Tag("roads".into(), Format::Atom);
        assert!(is_poll("GET", &rss, 200));
        assert!(is_poll("HEAD", &tag, 304));
        assert!(!is_poll("GET", &Route::Moved("/rss.xml"), 301));
        assert!(!is_poll("GET", &rss, 301));
        assert!(!is_poll("GET", &rss, 404));
        assert!(!is_poll("GET", &rss, 406));
        assert!(!is_poll("POST", &rss, 200));
        assert!(!is_poll("GET", &Route::Index, 200));
        assert!(!is_poll("GET", &Route::Archive(Format::Rss, 1), 200));
        assert!(!is_poll("GET", &Route::Article("a".into()), 200));
    }

    #[test]
    fn agents_are_clipped_at_a_character_boundary() {
        let long = "é".repeat(200);
        let clipped = clip_agent(&long);
        assert!(clipped.len() <= MAX_AGENT_BYTES && clipped.len() >= MAX_AGENT_BYTES - 1);
        assert_eq!(clip_agent("newsboat"), "newsboat");
    }
}
