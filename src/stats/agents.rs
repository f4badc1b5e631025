//! The User-Agent patterns of hosted readers that say how many of their users follow a
//! feed, as one table of data, and the parse of a User-Agent against it.
//!
//! Every row names the aggregator, the pattern that recognises its User-Agent, the pattern
//! of the count and, for aggregators that carry one, the pattern of the subscription's id
//! (one aggregator may hold several subscriptions to one feed, e.g. over http and https).
//! Each row also carries a real example and what it must parse to; a test replays them all.
//! A User-Agent that matches no row but still says `N subscribers` is counted too, under
//! the name of its first product token.

use std::sync::LazyLock;

use regex::Regex;

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    /// The aggregator's name, as shown in the statistics.
    pub name: &'static str,
    /// Recognises the aggregator's User-Agent (a regular expression).
    pub agent: &'static str,
    /// Captures the subscriber count in group 1.
    pub count: &'static str,
    /// Captures the subscription's id in group 1, for aggregators that send one.
    pub feed_id: Option<&'static str>,
    /// A real User-Agent of this aggregator.
    pub example: &'static str,
    /// What `example` parses to: the count and the id.
    pub expected: (u64, &'static str),
}

/// `N subscribers` (or `1 subscriber`), the form most aggregators use.
const SUBSCRIBERS: &str = r"(?i)\b(\d{1,9})\s+subscribers?\b";

/// `N readers`, the form of the journal sites.
const READERS: &str = r"(?i)\b(\d{1,9})\s+readers?\b";

/// The table: the first row whose `agent` matches wins, so a row whose pattern is found
/// inside another aggregator's User-Agent (Feedly's says `like FeedFetcher-Google`) is
/// anchored at the start.
pub const PATTERNS: &[Pattern] = &[
    Pattern {
        name: "Feedly",
        agent: r"(?i)^Feedly/",
        count: SUBSCRIBERS,
        feed_id: None,
        example: "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; like FeedFetcher-Google)",
        expected: (123, ""),
    },
    Pattern {
        name: "Inoreader",
        agent: r"(?i)\binoreader\b",
        count: SUBSCRIBERS,
        feed_id: None,
        example: "Mozilla/5.0 (compatible; Inoreader/1.0; +http://www.inoreader.com/feed-fetcher; 45 subscribers; )",
        expected: (45, ""),
    },
    Pattern {
        name: "NewsBlur",
        agent: r"(?i)^NewsBlur Feed Fetcher",
        count: SUBSCRIBERS,
        feed_id: Some(r"newsblur\.com/site/(\d+)"),
        example: "NewsBlur Feed Fetcher - 12 subscribers - https://www.newsblur.com/site/6712/name (Mozilla/5.0 ...)",
        expected: (12, "6712"),
    },
    Pattern {
        name: "Feedbin",
        agent: r"(?i)^Feedbin\b",
        count: SUBSCRIBERS,
        feed_id: Some(r"feed-id:(\d+)"),
        example: "Feedbin feed-id:1234 - 56 subscribers",
        expected: (56, "1234"),
    },
    Pattern {
        name: "The Old Reader",
        agent: r"(?i)\btheoldreader\.com\b",
        count: SUBSCRIBERS,
        feed_id: Some(r"feed-id=([^;)\s]+)"),
        example: "Mozilla/5.0 (compatible; theoldreader.com; 7 subscribers; feed-id=5f2a...)",
        expected: (7, "5f2a..."),
    },
    Pattern {
        name: "Netvibes",
        agent: r"(?i)^Netvibes\b",
        count: SUBSCRIBERS,
        feed_id: Some(r"(?i)feedID:\s*(\d+)"),
        example: "Netvibes (https://www.netvibes.com/; 3 subscribers; feedID: 9876)",
        expected: (3, "9876"),
    },
    Pattern {
        name: "Google Feedfetcher",
        agent: r"(?i)^Feedfetcher-Google\b",
        count: SUBSCRIBERS,
        feed_id: Some(r"feed-id=(\d+)"),
        example: "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers; feed-id=1234567)",
        expected: (4, "1234567"),
    },
    Pattern {
        name: "BazQux",
        agent: r"(?i)\bBazQux/",
        count: SUBSCRIBERS,
        feed_id: None,
        example: "Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 1 subscribers)",
        expected: (1, ""),
    },
    Pattern {
        name: "Dreamwidth",
        agent: r"(?i)^Dreamwidth Studios\b",
        count: READERS,
        feed_id: Some(r"for (https?://[^;\s]+)"),
        example: "Dreamwidth Studios (webmaster@dreamwidth.org; for https://www.dreamwidth.org/users/example_feed/; 2 readers)",
        expected: (2, "https://www.dreamwidth.org/users/example_feed/"),
    },
    Pattern {
        name: "LiveJournal",
        agent: r"(?i)^LiveJournal\.com\b",
        count: READERS,
        feed_id: Some(r"for (https?://[^;\s]+)"),
        example: "LiveJournal.com (webmaster@livejournal.com; for http://www.livejournal.com/users/example/; 9 readers)",
        expected: (9, "http://www.livejournal.com/users/example/"),
    },
    Pattern {
        name: "Bloglines",
        agent: r"(?i)^Bloglines/",
        count: SUBSCRIBERS,
        feed_id: None,
        example: "Bloglines/3.1 (http://www.bloglines.com; 81 subscribers)",
        expected: (81, ""),
    },
    Pattern {
        name: "NewsGator Online",
        agent: r"(?i)^NewsGatorOnline/",
        count: SUBSCRIBERS,
        feed_id: None,
        example: "NewsGatorOnline/2.0 (http://www.newsgator.com; 20 subscribers)",
        expected: (20, ""),
    },
    Pattern {
        name: "PlainFeeder",
        agent: r"(?i)^PlainFeeder\b",
        count: r"(?i)Subscriber Count:\s*(\d{1,9})",
        feed_id: None,
        example: "PlainFeeder v0.0.1 (+http://plainfeeder.com/about ; Subscriber Count: 17)",
        expected: (17, ""),
    },
    Pattern {
        name: "Yahoo",
        agent: r"(?i)^YahooFeedSeeker/",
        count: r"(?i)\busers (\d{1,9})\b",
        feed_id: None,
        example: "YahooFeedSeeker/2.0 (compatible; Mozilla 4.0; MSIE 5.5; http://my.yahoo.com/s/publishers.html; users 2; views 169)",
        expected: (2, ""),
    },
];

/// What an aggregator's User-Agent says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The aggregator's name.
    pub name: String,
    /// How many of its users follow the feed.
    pub subscribers: u64,
    /// The subscription's id within the aggregator; empty when it sends none.
    pub feed_id: String,
}

struct Compiled {
    name: &'static str,
    agent: Regex,
    count: Regex,
    feed_id: Option<Regex>,
}

/// The table, compiled once. A row that fails to compile is left out; the tests prove
/// that none does.
static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .filter_map(|p| {
            Some(Compiled {
                name: p.name,
                agent: Regex::new(p.agent).ok()?,
                count: Regex::new(p.count).ok()?,
                feed_id: match p.feed_id {
                    Some(f) => Some(Regex::new(f).ok()?),
                    None => None,
                },
            })
        })
        .collect()
});

static GENERIC: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(SUBSCRIBERS).ok());

fn capture(re: &Regex, text: &str) -> Option<String> {
    re.captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// The aggregator a User-Agent names and the count it reports; `None` for a reader that
/// polls for one installation (or an aggregator row whose count is missing).
pub fn reported(agent: &str) -> Option<Reported> {
    for row in COMPILED.iter() {
        if row.agent.is_match(agent) {
            let subscribers = capture(&row.count, agent)?.parse().ok()?;
            let feed_id = row
                .feed_id
                .as_ref()
                .and_then(|re| capture(re, agent))
                .unwrap_or_default();
            return Some(Reported {
                name: row.name.to_string(),
                subscribers,
                feed_id,
            });
        }
    }
    let subscribers = capture(GENERIC.as_ref()?, agent)?.parse().ok()?;
    Some(Reported {
        name: product(agent),
        subscribers,
        feed_id: String::new(),
    })
}

/// The reader's name as people know it: the first product token of the User-Agent
/// (`newsboat/2.30 (Linux)` is `newsboat`), or for browsers-compatible agents the first
/// token after `compatible;`. At most 40 characters and never a control character: control
/// characters end a token like spaces do, as the name is printed in the `feedpub stats`
/// table (an escape sequence in an imported log's User-Agent would reach the terminal).
/// `unknown` for an agent without a token.
pub fn product(agent: &str) -> String {
    let agent = agent.trim();
    let start = match agent.find("compatible;") {
        Some(i) if agent.starts_with("Mozilla/") => &agent[i + "compatible;".len()..],
        _ => agent,
    };
    let name: String = start
        .trim_start()
        .split(|c: char| matches!(c, '/' | ';' | '(' | ')') || c.is_whitespace() || c.is_control())
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .chars()
        .take(40)
        .collect();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(COMPILED.len(), PATTERNS.len());
        assert!(GENERIC.is_some());
    }

    /// One assertion per row of the table: its real example parses to what it says, and
    /// is recognised by that row, not an earlier one.
    #[test]
    fn every_example_parses_to_its_count_and_id() {
        for p in PATTERNS {
            let got = reported(p.example).unwrap_or_else(|| panic!("{}: no match", p.name));
            assert_eq!(
                got,
                Reported {
                    name: p.name.to_string(),
                    subscribers: p.expected.0,
                    feed_id: p.expected.1.to_string(),
                },
                "{}",
                p.example
            );
        }
    }

    #[test]
    fn feedly_is_not_taken_for_google() {
        let feedly = reported(PATTERNS[0].example).unwrap();
        assert_eq!(feedly.name, "Feedly");
    }

    #[test]
    fn a_subscriber_count_in_an_unknown_agent_is_counted_under_its_product() {
        let got = reported("Feedwise/3.2 (+https://feedwise.example; 8 subscribers)").unwrap();
        assert_eq!(
            (got.name.as_str(), got.subscribers, got.feed_id.as_str()),
            ("Feedwise", 8, "")
        );
        assert_eq!(
            reported("Feedbin feed-id:1 - 1 subscriber")
                .unwrap()
                .subscribers,
            1
        );
    }

    #[test]
    fn readers_that_poll_for_one_installation_report_nothing() {
        for agent in [
            "newsboat/2.30 (Linux x86_64)",
            "feedparser/6.0.10 +https://github.com/kurtmckee/feedparser/",
            "curl/7.88.1",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0",
            "",
            // An aggregator's agent without its count is not made up.
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
        ] {
            assert_eq!(reported(agent), None, "{agent}");
        }
    }

    #[test]
    fn products_are_the_first_token() {
        assert_eq!(product("newsboat/2.30 (Linux x86_64)"), "newsboat");
        assert_eq!(product("feedparser/6.0.10 +https://x"), "feedparser");
        assert_eq!(
            product("Mozilla/5.0 (compatible; theoldreader.com; 7)"),
            "theoldreader.com"
        );
        assert_eq!(product("Mozilla/5.0 (X11; Linux)"), "Mozilla");
        assert_eq!(product("  "), "unknown");
    }

    /// Found by the `user_agent` fuzz target: a NUL (or an escape sequence, from an access
    /// log's `\x1B`) was kept in the name the statistics table prints.
    #[test]
    fn control_characters_never_reach_the_product() {
        assert_eq!(product("\0"), "unknown");
        assert_eq!(product("!\0\0\x001.4"), "!");
        assert_eq!(product("\x1b[31mEvil/1.0"), "[31mEvil");
        assert_eq!(product("Mozilla/5.0 (compatible;\x07Bell/2)"), "Bell");
        let got = reported("\x1b]0;title\x07Feedwise/3 (8 subscribers)").unwrap();
        assert_eq!((got.name.as_str(), got.subscribers), ("]0", 8));
    }
}
