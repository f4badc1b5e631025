//! The figures, from the rows of the database: as JSON (`/stats.json`, `feedpub stats
//! --json`), as an HTML page with a server-side SVG chart (`/stats`), and as a text table
//! (`feedpub stats`). Pure: rows in, text out.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::store::{Rows, MAX_BATCH_KEYS};
use super::{recorder::QUEUE, WINDOW_HOURS};
use crate::html::escape_html;

/// One aggregator's count for one feed (summed over its subscriptions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregatorFigure {
    /// The aggregator.
    pub name: String,
    /// The subscribers it reported.
    pub subscribers: u64,
}

/// One feed's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedFigures {
    /// The feed's path.
    pub path: String,
    /// Aggregator total plus direct clients.
    pub subscribers: u64,
    /// Distinct (client, User-Agent) pairs that are not aggregators.
    pub direct_clients: u64,
    /// Aggregators, most subscribers first.
    pub aggregators: Vec<AggregatorFigure>,
}

/// One day of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayFigure {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Subscribers that day, over every feed.
    pub subscribers: u64,
}

/// How one reader polls, over its clients (or subscriptions) within the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReaderFigure {
    /// The reader's name (an aggregator's, or the User-Agent's product).
    pub name: String,
    /// Clients or subscriptions seen.
    pub clients: u64,
    /// Polls.
    pub polls: u64,
    /// Share of the polls that were conditional, from 0 to 1.
    pub conditional_share: f64,
    /// The median over its clients of each client's mean time between polls, in seconds;
    /// `None` when no client polled twice.
    pub median_interval_secs: Option<u64>,
}

/// Everything the statistics say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// The window of the current figures.
    pub window_hours: u64,
    /// The sum of the feeds' subscribers.
    pub subscribers: u64,
    /// Per feed, most subscribers first.
    pub feeds: Vec<FeedFigures>,
    /// Subscribers per day, oldest first.
    pub history: Vec<DayFigure>,
    /// How each reader polls, most polls first.
    pub readers: Vec<ReaderFigure>,
    /// Polls within the window not counted because the memory cap was reached.
    pub dropped_polls: u64,
}

/// The figures of `rows`.
pub fn figures(rows: &Rows) -> Figures {
    let mut feeds: BTreeMap<&str, (u64, BTreeMap<&str, u64>)> = BTreeMap::new();
    for (feed, name, subscribers) in &rows.aggregators {
        *feeds.entry(feed).or_default().1.entry(name).or_default() += subscribers;
    }
    for (feed, clients) in &rows.direct {
        feeds.entry(feed).or_default().0 += clients;
    }
    let mut feeds: Vec<FeedFigures> = feeds
        .into_iter()
        .map(|(path, (direct, aggregators))| {
            let mut aggregators: Vec<AggregatorFigure> = aggregators
                .into_iter()
                .map(|(name, subscribers)| AggregatorFigure {
                    name: name.to_string(),
                    subscribers,
                })
                .collect();
            aggregators.sort_by(|a, b| b.subscribers.cmp(&a.subscribers).then(a.name.cmp(&b.name)));
            FeedFigures {
                path: path.to_string(),
                subscribers: direct + aggregators.iter().map(|a| a.subscribers).sum::<u64>(),
                direct_clients: direct,
                aggregators,
            }
        })
        .collect();
    feeds.sort_by(|a, b| b.subscribers.cmp(&a.subscribers).then(a.path.cmp(&b.path)));
    Figures {
        window_hours: WINDOW_HOURS,
        subscribers: feeds.iter().map(|f| f.subscribers).sum(),
        feeds,
        history: rows
            .history
            .iter()
            .map(|(day, subscribers)| DayFigure {
                day: day.clone(),
                subscribers: *subscribers,
            })
            .collect(),
        readers: readers(&rows.behaviour),
        dropped_polls: rows.dropped,
    }
}

fn readers(rows: &[(String, u64, u64, i64, i64)]) -> Vec<ReaderFigure> {
    let mut by_name: BTreeMap<&str, (u64, u64, u64, Vec<u64>)> = BTreeMap::new();
    for (name, polls, conditional, first, last) in rows {
        let entry = by_name.entry(name).or_default();
        entry.0 += 1;
        entry.1 += polls;
        entry.2 += conditional;
        if *polls > 1 {
            entry.3.push((last - first).max(0) as u64 / (polls - 1));
        }
    }
    let mut out: Vec<ReaderFigure> = by_name
        .into_iter()
        .map(|(name, (clients, polls, conditional, mut intervals))| {
            intervals.sort_unstable();
            ReaderFigure {
                name: name.to_string(),
                clients,
                polls,
                conditional_share: if polls == 0 {
                    0.0
                } else {
                    conditional as f64 / polls as f64
                },
                median_interval_secs: (!intervals.is_empty())
                    .then(|| intervals[intervals.len() / 2]),
            }
        })
        .collect();
    out.sort_by(|a, b| b.polls.cmp(&a.polls).then(a.name.cmp(&b.name)));
    out
}

impl Figures {
    /// As JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// As a text table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} subscriber(s) over the last {} hours",
            self.subscribers, self.window_hours
        );
        let _ = writeln!(
            out,
            "\n{:<40} {:>11} {:>14}  aggregators",
            "feed", "subscribers", "direct clients"
        );
        for feed in &self.feeds {
            let aggregators: Vec<String> = feed
                .aggregators
                .iter()
                .map(|a| format!("{} {}", a.name, a.subscribers))
                .collect();
            let _ = writeln!(
                out,
                "{:<40} {:>11} {:>14}  {}",
                feed.path,
                feed.subscribers,
                feed.direct_clients,
                aggregators.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "\n{:<30} {:>7} {:>7} {:>12} {:>16}",
            "reader", "clients", "polls", "conditional", "median interval"
        );
        for r in &self.readers {
            let _ = writeln!(
                out,
                "{:<30} {:>7} {:>7} {:>11.0}% {:>16}",
                r.name,
                r.clients,
                r.polls,
                r.conditional_share * 100.0,
                interval(r.median_interval_secs)
            );
        }
        let _ = writeln!(out, "\n{:<12} {:>11}", "day", "subscribers");
        for d in &self.history {
            let _ = writeln!(out, "{:<12} {:>11}", d.day, d.subscribers);
        }
        if self.dropped_polls > 0 {
            let _ = writeln!(
                out,
                "\n{} poll(s) not counted: the memory cap was reached",
                self.dropped_polls
            );
        }
        out
    }

    /// As an HTML page for a person: the chart of subscribers per day, the feeds, the
    /// aggregators by name and how politely each reader polls. No script.
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(8192);
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.push_str("<meta name=\"robots\" content=\"noindex\">\n<title>Subscribers</title>\n");
        h.push_str("<style>body{font:16px/1.4 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}table{border-collapse:collapse;margin:1rem 0}th,td{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}svg{max-width:100%;height:auto}.note{color:#666}</style>\n");
        h.push_str("</head>\n<body>\n");
        let _ = writeln!(
            h,
            "<h1>{} subscribers</h1>\n<p class=\"note\">Over the last {} hours: what aggregators last reported, plus one per other reader installation (distinct address and User-Agent).</p>",
            self.subscribers, self.window_hours
        );
        h.push_str("<h2>Subscribers per day</h2>\n");
        h.push_str(&self.chart());
        h.push_str("<h2>Feeds</h2>\n<table>\n<tr><th>feed</th><th>subscribers</th><th>direct clients</th><th>aggregators</th></tr>\n");
        for f in &self.feeds {
            let aggregators: Vec<String> = f
                .aggregators
                .iter()
                .map(|a| format!("{} {}", escape_html(&a.name), a.subscribers))
                .collect();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&f.path),
                f.subscribers,
                f.direct_clients,
                aggregators.join(", ")
            );
        }
        h.push_str("</table>\n<h2>Aggregators</h2>\n<table>\n<tr><th>aggregator</th><th>subscribers</th></tr>\n");
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for a in self.feeds.iter().flat_map(|f| &f.aggregators) {
            *totals.entry(&a.name).or_default() += a.subscribers;
        }
        let mut totals: Vec<(&str, u64)> = totals.into_iter().collect();
        totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (name, n) in totals {
            let _ = writeln!(h, "<tr><td>{}</td><td>{n}</td></tr>", escape_html(name));
        }
        h.push_str("</table>\n<h2>How readers poll</h2>\n<p class=\"note\">Conditional requests (If-None-Match, If-Modified-Since) cost a 304 instead of the whole feed; the interval is the median over a reader's clients of each client's mean time between polls.</p>\n");
        h.push_str("<table>\n<tr><th>reader</th><th>clients</th><th>polls</th><th>conditional</th><th>median interval</th></tr>\n");
        for r in &self.readers {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{}</td></tr>",
                escape_html(&r.name),
                r.clients,
                r.polls,
                r.conditional_share * 100.0,
                interval(r.median_interval_secs)
            );
        }
        h.push_str("</table>\n");
        let _ = writeln!(
            h,
            "<p class=\"note\">Memory is capped (a queue of {QUEUE} polls and {MAX_BATCH_KEYS} distinct clients per second); polls beyond it are counted, not recorded: {} in this window.</p>",
            self.dropped_polls
        );
        h.push_str("</body>\n</html>\n");
        h
    }

    /// The SVG chart: one point (`<circle class="day">`) per day of the history.
    fn chart(&self) -> String {
        const W: f64 = 800.0;
        const H: f64 = 240.0;
        const PAD: f64 = 40.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Subscribers per day\">"
        );
        let _ = writeln!(
            s,
            "<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fafafa\"/>"
        );
        let max = self
            .history
            .iter()
            .map(|d| d.subscribers)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let n = self.history.len();
        let x = |i: usize| {
            if n <= 1 {
                W / 2.0
            } else {
                PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
            }
        };
        let y = |v: u64| H - PAD - (H - 2.0 * PAD) * v as f64 / max;
        let _ = writeln!(
            s,
            "<line x1=\"{PAD}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#999\"/>",
            H - PAD,
            W - PAD
        );
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{}\" font-size=\"12\">{}</text>",
            PAD, max as u64
        );
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{}\" font-size=\"12\">0</text>",
            H - PAD
        );
        if n > 1 {
            let points: Vec<String> = self
                .history
                .iter()
                .enumerate()
                .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(d.subscribers)))
                .collect();
            let _ = writeln!(
                s,
                "<polyline fill=\"none\" stroke=\"#36c\" stroke-width=\"2\" points=\"{}\"/>",
                points.join(" ")
            );
        }
        for (i, d) in self.history.iter().enumerate() {
            let _ = writeln!(
                s,
                "<circle class=\"day\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#36c\"><title>{}: {}</title></circle>",
                x(i),
                y(d.subscribers),
                escape_html(&d.day),
                d.subscribers
            );
        }
        if let (Some(first), Some(last)) = (self.history.first(), self.history.last()) {
            let _ = writeln!(
                s,
                "<text x=\"{PAD}\" y=\"{}\" font-size=\"12\">{}</text>",
                H - 12.0,
                escape_html(&first.day)
            );
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
                W - PAD,
                H - 12.0,
                escape_html(&last.day)
            );
        } else {
            let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">no polls recorded yet</text>", W / 2.0, H / 2.0);
        }
        s.push_str("</svg>\n");
        s
    }
}

fn interval(secs: Option<u64>) -> String {
    match secs {
        None => "-".to_string(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) => format!("{:.1} h", s as f64 / 3600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Rows {
        Rows {
            aggregators: vec![
                ("/rss.xml".into(), "Feedly".into(), 100),
                ("/rss.xml".into(), "Feedly".into(), 1),
                ("/rss.xml".into(), "Feedbin".into(), 13),
                ("/atom.xml".into(), "Feedbin".into(), 4),
            ],
            direct: vec![("/rss.xml".into(), 3), ("/tags/x/rss.xml".into(), 1)],
            history: vec![("2026-11-30".into(), 120), ("2026-12-01".into(), 142)],
            behaviour: vec![
                ("newsboat".into(), 5, 5, 0, 400),
                ("newsboat".into(), 3, 0, 0, 60),
                ("curl".into(), 1, 0, 10, 10),
            ],
            dropped: 0,
        }
    }

    #[test]
    fn a_feeds_subscribers_are_its_aggregators_plus_its_direct_clients() {
        let f = figures(&rows());
        assert_eq!(f.feeds[0].path, "/rss.xml");
        assert_eq!(f.feeds[0].subscribers, 101 + 13 + 3);
        assert_eq!(
            f.feeds[0].aggregators,
            vec![
                AggregatorFigure {
                    name: "Feedly".into(),
                    subscribers: 101
                },
                AggregatorFigure {
                    name: "Feedbin".into(),
                    subscribers: 13
                },
            ]
        );
        assert_eq!(f.subscribers, 117 + 4 + 1);
        let json: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
        assert_eq!(json["window_hours"], 24);
        assert_eq!(json["subscribers"], 122);
        assert_eq!(json["feeds"][0]["direct_clients"], 3);
        assert_eq!(json["history"][1]["day"], "2026-12-01");
    }

    #[test]
    fn readers_show_their_conditional_share_and_median_interval() {
        let f = figures(&rows());
        let newsboat = f.readers.iter().find(|r| r.name == "newsboat").unwrap();
        assert_eq!((newsboat.clients, newsboat.polls), (2, 8));
        assert!((newsboat.conditional_share - 5.0 / 8.0).abs() < 1e-9);
        // Client means: 100 s and 30 s; the median of two is the upper one.
        assert_eq!(newsboat.median_interval_secs, Some(100));
        let curl = f.readers.iter().find(|r| r.name == "curl").unwrap();
        assert_eq!(curl.median_interval_secs, None);
    }

    #[test]
    fn the_chart_has_one_point_per_day_and_names_are_escaped() {
        let mut r = rows();
        r.history = (1..=5).map(|d| (format!("2026-12-0{d}"), d * 10)).collect();
        r.aggregators.push(("/rss.xml".into(), "<b>".into(), 1));
        let html = figures(&r).to_html();
        assert_eq!(html.matches("<circle class=\"day\"").count(), 5);
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
        assert!(!html.contains("<script"));
        let empty = figures(&Rows::default()).to_html();
        assert_eq!(empty.matches("<circle").count(), 0);
        assert!(empty.contains("no polls recorded yet"));
    }
}
