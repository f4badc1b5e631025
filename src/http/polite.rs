//! Polite polling (`min_poll_interval_secs`): an unconditional `GET` of a feed that the same
//! client (address and User-Agent) made of that feed less than the interval ago is refused with 429 and
//! the seconds left. Conditional requests are never refused (they cost a 304), and neither
//! are WebSub hubs fetching what they were told changed.
//!
//! The state is a fixed number of entries whatever the traffic: a keyed 64-bit hash of the
//! client and the time of its last unconditional poll, in shards. A full shard first forgets
//! the clients whose interval has passed; if it is still full the poll is let through and
//! counted as untracked, so that a flood of new clients costs memory for none of them.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many clients are remembered at most (about 40 bytes each: 4 MB).
pub const MAX_CLIENTS: usize = 100_000;

const SHARDS: usize = 16;

/// What to do with a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Allow,
    /// Refuse it with 429 and `Retry-After` of this many seconds.
    Refuse {
        /// Seconds until the client may poll again, at least 1.
        retry_after: u64,
    },
}

/// The last unconditional poll of each recent client.
#[derive(Debug)]
pub struct PolitePolling {
    interval: Duration,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<HashMap<u64, Instant>>>,
    per_shard: usize,
    untracked: AtomicU64,
}

/// User-Agent words of WebSub hubs, whose fetches follow a ping and are never refused.
const HUB_AGENTS: [&str; 4] = ["pubsubhubbub", "websub", "superfeedr", "feedburner"];

impl PolitePolling {
    /// The rule for `interval`, remembering at most `max_clients` clients.
    pub fn new(interval: Duration, max_clients: usize) -> PolitePolling {
        PolitePolling {
            interval,
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_clients.div_ceil(SHARDS).max(1),
            untracked: AtomicU64::new(0),
        }
    }

    /// Whether `user_agent` is a WebSub hub's (or names one of `hubs`' hosts).
    pub fn is_hub(user_agent: &[u8], hubs: &[String]) -> bool {
        let agent = String::from_utf8_lossy(user_agent).to_ascii_lowercase();
        HUB_AGENTS.iter().any(|word| agent.contains(word))
            || hubs.iter().any(|hub| {
                let host = hub
                    .split("://")
                    .nth(1)
                    .and_then(|rest| rest.split(['/', ':']).next())
                    .unwrap_or("");
                !host.is_empty() && agent.contains(&host.to_ascii_lowercase())
            })
    }

    /// The verdict on an unconditional poll of the feed at `path` by `client` with
    /// `user_agent` at `now`; an allowed poll starts the client's interval for that feed again.
    pub fn unconditional_poll(
        &self,
        client: IpAddr,
        user_agent: &[u8],
        path: &str,
        now: Instant,
    ) -> Verdict {
        let mut hasher = self.hasher.build_hasher();
        match client {
            IpAddr::V4(a) => hasher.write(&a.octets()),
            IpAddr::V6(a) => hasher.write(&a.octets()),
        }
        hasher.write_u8(0xff);
        hasher.write(user_agent);
        hasher.write_u8(0xff);
        hasher.write(path.as_bytes());
        let key = hasher.finish();
        let shard = &self.shards[(key as usize) % SHARDS];
        let mut clients = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = clients.get_mut(&key) {
            let since = now.saturating_duration_since(*last);
            if since < self.interval {
                let left = self.interval - since;
                let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                return Verdict::Refuse {
                    retry_after: retry_after.max(1),
                };
            }
            *last = now;
            return Verdict::Allow;
        }
        if clients.len() >= self.per_shard {
            let interval = self.interval;
            clients.retain(|_, last| now.saturating_duration_since(*last) < interval);
        }
        if clients.len() >= self.per_shard {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        } else {
            clients.insert(key, now);
        }
        Verdict::Allow
    }

    /// How many clients are remembered now.
    pub fn clients(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// How many polls were let through without being remembered (the state was full).
    pub fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(n))
    }

    #[test]
    fn a_repeated_unconditional_poll_waits_out_the_interval() {
        let rule = PolitePolling::new(Duration::from_secs(60), 1000);
        let t0 = Instant::now();
        assert_eq!(
            rule.unconditional_poll(ip(1), b"reader", "/rss.xml", t0),
            Verdict::Allow
        );
        assert_eq!(
            rule.unconditional_poll(
                ip(1),
                b"reader",
                "/rss.xml",
                t0 + Duration::from_millis(10_500)
            ),
            Verdict::Refuse { retry_after: 50 }
        );
        assert_eq!(
            rule.unconditional_poll(
                ip(1),
                b"reader",
                "/rss.xml",
                t0 + Duration::from_millis(59_999)
            ),
            Verdict::Refuse { retry_after: 1 }
        );
        // Another agent at the same address, or another address, is another client.
        assert_eq!(
            rule.unconditional_poll(ip(1), b"other", "/rss.xml", t0),
            Verdict::Allow
        );
        assert_eq!(
            rule.unconditional_poll(ip(2), b"reader", "/rss.xml", t0),
            Verdict::Allow
        );
        assert_eq!(
            rule.unconditional_poll(ip(1), b"reader", "/rss.xml", t0 + Duration::from_secs(60)),
            Verdict::Allow
        );
    }

    #[test]
    fn a_flood_of_clients_stays_within_the_cap() {
        let rule = PolitePolling::new(Duration::from_secs(60), 10_000);
        let t0 = Instant::now();
        for n in 0..200_000u32 {
            assert_eq!(
                rule.unconditional_poll(ip(n), b"bot", "/rss.xml", t0),
                Verdict::Allow
            );
        }
        assert!(rule.clients() <= 10_000 + SHARDS, "{}", rule.clients());
        assert!(rule.untracked() >= 190_000 - SHARDS as u64);
        // Once their interval has passed, room is made for new clients.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(
            rule.unconditional_poll(ip(2_000_000), b"new", "/rss.xml", later),
            Verdict::Allow
        );
        assert_eq!(
            rule.unconditional_poll(
                ip(2_000_000),
                b"new",
                "/rss.xml",
                later + Duration::from_secs(1)
            ),
            Verdict::Refuse { retry_after: 59 }
        );
    }

    #[test]
    fn hubs_are_known_by_their_agents() {
        let hubs = vec!["https://hub.example.org/websub".to_string()];
        assert!(PolitePolling::is_hub(
            b"Mozilla/5.0 (compatible; PubSubHubbub/0.4)",
            &[]
        ));
        assert!(PolitePolling::is_hub(b"Superfeedr bot/2.0", &[]));
        assert!(PolitePolling::is_hub(
            b"fetcher (+https://hub.example.org)",
            &hubs
        ));
        assert!(!PolitePolling::is_hub(
            b"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1 subscribers)",
            &hubs
        ));
    }
}
