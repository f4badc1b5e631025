//! The server's metrics, for `GET /metrics` in the Prometheus text format (with the
//! `prometheus-client` crate): responses by route family, status and encoding, request
//! durations, open connections, regenerations, articles, WebSub notifications, polite-polling
//! refusals, dropped access-log lines, and the build.
//!
//! Recording is a few atomic additions under a read lock; nothing is formatted until a
//! scrape asks.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::urls::Route;

/// The labels of a response.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    route: &'static str,
    status: u16,
    encoding: &'static str,
}

/// The label of a request duration.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// The label of an outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The label of an article count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// The labels of the build.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// The route families a response can be counted under, as [`route_family`] and the
/// server's path rule name them; each has a row of [`Hot`] handles.
const ROUTE_FAMILIES: [&str; 13] = [
    "index",
    "feed",
    "tag_feed",
    "language_feed",
    "opml",
    "archive",
    "history",
    "article",
    "redirect",
    "health",
    "stats",
    "metrics",
    "other",
];

/// The statuses nearly every response has, with handles of their own in [`Hot`].
const HOT_STATUSES: [u16; 6] = [200, 301, 304, 308, 404, 429];

/// The `encoding` labels.
const CODINGS: [&str; 5] = ["identity", "gzip", "br", "none", "other"];

/// Where `route` is in [`ROUTE_FAMILIES`].
fn route_slot(route: &str) -> Option<usize> {
    ROUTE_FAMILIES.iter().position(|r| *r == route)
}

/// Where `status` is in [`HOT_STATUSES`].
fn status_slot(status: u16) -> Option<usize> {
    HOT_STATUSES.iter().position(|s| *s == status)
}

/// Where `coding` is in [`CODINGS`].
fn coding_slot(coding: &str) -> Option<usize> {
    CODINGS.iter().position(|c| *c == coding)
}

/// The handles of the series a response usually lands in, each fetched from its family once
/// and then kept (a handle shares its series' atomic): looking a series up by its labels
/// hashed them under a lock, 720 of a 304's 15,000 instructions (callgrind). A series still
/// appears in `/metrics` only once something was counted in it.
#[derive(Debug)]
struct Hot {
    /// By (route, status, coding) slot.
    responses: Box<[OnceLock<Counter>]>,
    /// By route slot.
    durations: Box<[OnceLock<Histogram>]>,
}

impl Hot {
    fn new() -> Hot {
        Hot {
            responses: (0..ROUTE_FAMILIES.len() * HOT_STATUSES.len() * CODINGS.len())
                .map(|_| OnceLock::new())
                .collect(),
            durations: (0..ROUTE_FAMILIES.len()).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// Every metric of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    hot: Hot,
    responses: Family<ResponseLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    connections: Gauge,
    regenerations: Family<OutcomeLabels, Counter>,
    regeneration_seconds: Histogram,
    articles: Family<StateLabels, Gauge>,
    notifications: Family<OutcomeLabels, Counter>,
    refused_polls: Counter,
    dropped_log_lines: Counter,
}

/// The family a route belongs to, as the `route` label says it.
pub fn route_family(route: &Route) -> &'static str {
    match route {
        Route::Index => "index",
        Route::Feed(_) => "feed",
        Route::Tag(..) => "tag_feed",
        Route::Language(..) => "language_feed",
        Route::Opml => "opml",
        Route::Archive(..) => "archive",
        Route::History(_) => "history",
        Route::Article(_) => "article",
        Route::OldArticle(_) | Route::Moved(_) => "redirect",
        Route::Health => "health",
        Route::Stats | Route::StatsJson => "stats",
        Route::NotFound => "other",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered under the `feedpub_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("feedpub");
        let responses = Family::<ResponseLabels, Counter>::default();
        registry.register(
            "responses",
            "HTTP responses by route family, status and content coding",
            responses.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 10 µs to about 2.6 s.
            Histogram::new(exponential_buckets(0.000_01, 4.0, 10))
        });
        registry.register(
            "request_duration_seconds",
            "Time from a request's head to its response, by route family",
            durations.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "open_connections",
            "Connections open now",
            connections.clone(),
        );
        let regenerations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "regenerations",
            "Regenerations of the site, by outcome (changed, unchanged, failed)",
            regenerations.clone(),
        );
        let regeneration_seconds = Histogram::new(exponential_buckets(0.001, 4.0, 9));
        registry.register(
            "regeneration_duration_seconds",
            "Time one regeneration took",
            regeneration_seconds.clone(),
        );
        let articles = Family::<StateLabels, Gauge>::default();
        registry.register(
            "articles",
            "Articles of the last load, published or rejected",
            articles.clone(),
        );
        let notifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "websub_notifications",
            "WebSub notifications to hubs, by outcome (accepted, failed)",
            notifications.clone(),
        );
        let refused_polls = Counter::default();
        registry.register(
            "refused_polls",
            "Unconditional polls refused with 429 (min_poll_interval_secs)",
            refused_polls.clone(),
        );
        let dropped_log_lines = Counter::default();
        registry.register(
            "access_log_dropped_lines",
            "Access-log lines dropped because the writer fell behind",
            dropped_log_lines.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The running feedpub (always 1)", build);
        Metrics {
            registry,
            hot: Hot::new(),
            responses,
            durations,
            connections,
            regenerations,
            regeneration_seconds,
            articles,
            notifications,
            refused_polls,
            dropped_log_lines,
        }
    }

    /// One response of `route`'s family with `status`, in `encoding` (`identity`, `gzip`,
    /// `br`, or `none` for a response without a body of its own), made in `seconds`.
    pub fn response(&self, route: &'static str, status: u16, encoding: &'static str, seconds: f64) {
        let labels = || ResponseLabels {
            route,
            status,
            encoding,
        };
        let route_at = route_slot(route);
        match (route_at, status_slot(status), coding_slot(encoding)) {
            (Some(r), Some(s), Some(c)) => self.hot.responses
                [(r * HOT_STATUSES.len() + s) * CODINGS.len() + c]
                .get_or_init(|| self.responses.get_or_create(&labels()).clone())
                .inc(),
            _ => self.responses.get_or_create(&labels()).inc(),
        };
        match route_at {
            Some(r) => self.hot.durations[r]
                .get_or_init(|| self.durations.get_or_create(&RouteLabels { route }).clone())
                .observe(seconds),
            None => self
                .durations
                .get_or_create(&RouteLabels { route })
                .observe(seconds),
        }
    }

    /// A connection was accepted.
    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    /// A connection was closed.
    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    /// One regeneration with its `outcome` (`changed`, `unchanged`, `failed`), in `seconds`.
    pub fn regeneration(&self, outcome: &'static str, seconds: f64) {
        self.regenerations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.regeneration_seconds.observe(seconds);
    }

    /// The articles of the last load.
    pub fn articles(&self, published: usize, rejected: usize) {
        for (state, n) in [("published", published), ("rejected", rejected)] {
            self.articles
                .get_or_create(&StateLabels { state })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// One WebSub notification with its `outcome` (`accepted`, `failed`).
    pub fn notification(&self, outcome: &'static str) {
        self.notifications
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// A poll refused with 429.
    pub fn refused_poll(&self) {
        self.refused_polls.inc();
    }

    /// Access-log lines dropped since the last call.
    pub fn dropped_log_lines(&self, n: u64) {
        if n > 0 {
            self.dropped_log_lines.inc_by(n);
        }
    }

    /// The exposition of every metric in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut open_metrics = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut open_metrics, &self.registry);
        prometheus_text(&open_metrics)
    }
}

/// The crate writes OpenMetrics, whose `# HELP` and `# TYPE` lines name a counter without
/// its `_total` samples' suffix and which ends in `# EOF`; the Prometheus text format (what
/// `promtool check metrics` and every scraper read as `text/plain; version=0.0.4`) names the
/// samples themselves and has no end marker.
fn prometheus_text(open_metrics: &str) -> String {
    let lines: Vec<&str> = open_metrics.lines().collect();
    let mut out = String::with_capacity(open_metrics.len() + 256);
    for (i, line) in lines.iter().enumerate() {
        if *line == "# EOF" {
            continue;
        }
        let counter_of = |l: &str| {
            l.strip_prefix("# TYPE ")
                .and_then(|rest| rest.strip_suffix(" counter"))
                .map(str::to_string)
        };
        let renamed = if let Some(name) = counter_of(line) {
            format!("# TYPE {name}_total counter")
        } else if let Some(name) = lines.get(i + 1).and_then(|next| counter_of(next)) {
            match line.strip_prefix(&format!("# HELP {name} ")) {
                Some(help) => format!("# HELP {name}_total {help}"),
                None => line.to_string(),
            }
        } else {
            line.to_string()
        };
        out.push_str(&renamed);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_its_labels() {
        let m = Metrics::new();
        m.response("feed", 304, "none", 0.000_02);
        m.response("feed", 304, "none", 0.000_03);
        m.response("feed", 200, "gzip", 0.000_05);
        m.regeneration("changed", 0.02);
        m.articles(24, 1);
        m.notification("accepted");
        m.refused_poll();
        m.connection_opened();
        let text = m.encode();
        for line in [
            "feedpub_responses_total{route=\"feed\",status=\"304\",encoding=\"none\"} 2",
            "feedpub_responses_total{route=\"feed\",status=\"200\",encoding=\"gzip\"} 1",
            "feedpub_request_duration_seconds_count{route=\"feed\"} 3",
            "feedpub_open_connections 1",
            "feedpub_regenerations_total{outcome=\"changed\"} 1",
            "feedpub_articles{state=\"published\"} 24",
            "feedpub_articles{state=\"rejected\"} 1",
            "feedpub_websub_notifications_total{outcome=\"accepted\"} 1",
            "feedpub_refused_polls_total 1",
            "feedpub_build_info{version=\"",
            "# TYPE feedpub_responses_total counter",
            "# HELP feedpub_responses_total HTTP responses",
            "# TYPE feedpub_open_connections gauge",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(!text.contains("# EOF"));
        let series = text
            .lines()
            .filter(|l| l.starts_with("feedpub_responses_total{"));
        assert_eq!(series.count(), 2);
    }

    #[test]
    fn kept_handles_and_looked_up_series_count_into_the_same_lines() {
        let m = Metrics::new();
        for _ in 0..3 {
            m.response("article", 200, "br", 0.001);
        }
        // Not kept: an unusual status, coding and route family.
        m.response("article", 503, "br", 0.001);
        m.response("article", 200, "zstd", 0.001);
        m.response("elsewhere", 200, "br", 0.001);
        let text = m.encode();
        for line in [
            "feedpub_responses_total{route=\"article\",status=\"200\",encoding=\"br\"} 3",
            "feedpub_responses_total{route=\"article\",status=\"503\",encoding=\"br\"} 1",
            "feedpub_responses_total{route=\"article\",status=\"200\",encoding=\"zstd\"} 1",
            "feedpub_responses_total{route=\"elsewhere\",status=\"200\",encoding=\"br\"} 1",
            "feedpub_request_duration_seconds_count{route=\"article\"} 5",
            "feedpub_request_duration_seconds_count{route=\"elsewhere\"} 1",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
    }

    #[test]
    fn every_route_family_has_kept_handles() {
        for path in [
            "/",
            "/rss.xml",
            "/tags/x/rss.xml",
            "/lang/fa/rss.xml",
            "/feeds.opml",
            "/archive/rss/1.xml",
            "/archive/1.html",
            "/articles/1.html",
            "/healthz",
            "/stats",
            "/nothing",
        ] {
            let family = route_family(&Route::parse(path));
            assert!(route_slot(family).is_some(), "{path}: {family}");
        }
        assert!(route_slot("redirect").is_some() && route_slot("metrics").is_some());
    }
}
