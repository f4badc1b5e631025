//! Configuration: `feedpub.toml` plus command-line overrides, validated once at start-up.
//!
//! Every key is optional. An unknown key or a bad value is an error that names the key,
//! so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::{BTreeMap, BTreeSet};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::lang::{normalize_tag, Languages};
use crate::urls::Route;

/// The name of the configuration file looked up in the current folder.
pub const DEFAULT_CONFIG_FILE: &str = "feedpub.toml";

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` could not be read.
    #[error("{path}: cannot read configuration: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or has an unknown key or a value of the wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// Where (line, column and the key of that line) and the parser's message, on one
        /// line; never the text of the line, which may hold a secret (`admin_token`).
        message: String,
    },
    /// A key has a value of the right type that is still unusable.
    #[error("{path}: invalid value for `{key}`: {message}")]
    Invalid {
        /// The configuration file (or `<command line>`).
        path: PathBuf,
        /// The offending key.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// The author of the feed, required by Atom (RFC 4287 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The author's name.
    pub name: String,
    /// An optional e-mail address.
    pub email: Option<String>,
}

/// The default `max_articles`: two million files, which a server would hold in about 4 GB
/// (2 KB resident per article at 100,000 articles; BENCHMARKS.md, "Scale").
pub const DEFAULT_MAX_ARTICLES: u64 = 2_000_000;

/// The longest duration any key gives (a year, in seconds): each is added to a clock (the
/// header read timeout to every connection's), and a clock has an end. A header read timeout
/// of `i64::MAX` seconds made every connection panic.
pub const MAX_DURATION_SECS: u64 = 365 * 24 * 60 * 60;

/// The largest `max_header_bytes` (1 MiB): no request for a feed needs more, HTTP/2 keeps
/// the limit in 32 bits, and each connection may hold this much.
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// The validated configuration that every stage reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Feed title (RSS `title`, Atom `title`).
    pub title: String,
    /// Feed description (RSS `description`, Atom `subtitle`).
    pub description: String,
    /// The site the feed belongs to (RSS `link`, Atom `link rel="alternate"`).
    pub site_url: String,
    /// Where feedpub is reachable, without a trailing slash; feeds' self links start here.
    pub base_url: String,
    /// False when `base_url` is the default; `serve` then derives it from the address it
    /// listens on.
    pub base_url_explicit: bool,
    /// Language tag of the content (RSS `language`, Atom `xml:lang`, HTML `lang`).
    pub language: String,
    /// The site's language with the configured `languages`: what decides each article's
    /// language (see [`crate::lang`]).
    pub languages: Languages,
    /// `icon`: a square image, as an absolute URL (Atom `icon`, JSON Feed `icon` and
    /// `favicon`, RSS `image`).
    pub icon: Option<String>,
    /// `logo`: a wide image, as an absolute URL (Atom `logo`).
    pub logo: Option<String>,
    /// `redirects`: request paths answered with 301 to the path beside them (chains already
    /// followed, so every entry is one hop to a path feedpub serves).
    pub redirects: BTreeMap<String, String>,
    /// `gone`: retired paths, answered with 410.
    pub gone: BTreeSet<String>,
    /// `stale-while-revalidate` of feeds and pages, in seconds (0: none).
    pub stale_while_revalidate: u64,
    /// `stale-if-error` of feeds and pages, in seconds (0: none).
    pub stale_if_error: u64,
    /// The zone in which the articles' local dates and times are read.
    pub timezone: Tz,
    /// The feed's author.
    pub author: Author,
    /// Template of an item's link; `{id}` and `{base_url}` are replaced.
    pub item_link: String,
    /// Prefix of every item's permanent identity; the article's id is appended.
    pub id_prefix: String,
    /// How many items each subscription feed holds at most.
    pub max_items: usize,
    /// How many items each RFC 5005 archive page holds (at most `max_items`).
    pub archive_page_size: usize,
    /// `Cache-Control: max-age` of archive pages, in seconds.
    pub archive_max_age: u64,
    /// WebSub hubs notified after every change, and advertised in every feed.
    pub hubs: Vec<String>,
    /// How long one notification of a hub may take.
    pub websub_timeout: Duration,
    /// About how many characters a summary holds before it is cut at a word boundary.
    pub summary_chars: usize,
    /// The articles folder.
    pub articles: PathBuf,
    /// The folder the feeds are written to.
    pub output: PathBuf,
    /// Articles larger than this are rejected without being read.
    pub max_article_bytes: u64,
    /// The most files the articles folder may hold: a larger folder is an error naming
    /// the limit, never a server killed for want of memory (see the README's "Limits").
    pub max_articles: u64,
    /// The address `serve` listens on.
    pub addr: SocketAddr,
    /// `Cache-Control: max-age` of feeds, in seconds; RSS `<ttl>` follows it.
    pub cache_max_age: u64,
    /// How long the server waits for more file events before regenerating; a changed file is
    /// read only once it has not changed for this long (it may still be being written).
    pub debounce: Duration,
    /// How often the server rescans the folder when no event arrives.
    pub rescan_interval: Duration,
    /// How long a client may take to send its request headers. The clock starts when the
    /// server begins waiting for a request, so it is also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout: Duration,
    /// The largest request head accepted, in bytes.
    pub max_header_bytes: usize,
    /// The most connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// `tls_cert` and `tls_key`: the PEM certificate chain and private key `serve` speaks
    /// TLS with (HTTP/2 and HTTP/1.1 by ALPN); both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `access_log`: the file of the access log (combined format), or `-` for standard
    /// output; none by default.
    pub access_log: Option<PathBuf>,
    /// `min_poll_interval_secs`: an unconditional poll of a feed repeated by one client
    /// sooner than this gets 429; 0 (the default) turns it off.
    pub min_poll_interval: Duration,
    /// How long a graceful shutdown waits for in-flight responses.
    pub shutdown_timeout: Duration,
    // Subscriber statistics (`stats`, `stats_db`, `admin_token`, `trusted_proxies`).
    /// Subscriber statistics: whether polls are recorded, where, and who may see them.
    pub stats: StatsConfig,
}

/// A secret: compared in constant time by its users, never printed (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's bytes, for a constant-time comparison.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The keys of the subscriber statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsConfig {
    /// `stats`: whether `serve` records polls (default true). When false the database is
    /// not touched at all.
    pub enabled: bool,
    /// `stats_db`: the SQLite file (default `feedpub-stats.sqlite` beside the
    /// configuration file, or in the current folder).
    pub db: PathBuf,
    /// `admin_token`: the bearer token of `/stats` and `/stats.json`; without it they are
    /// not served at all.
    pub admin_token: Option<Secret>,
    /// `trusted_proxies`: addresses and networks whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The default name of the statistics database.
pub const DEFAULT_STATS_DB: &str = "feedpub-stats.sqlite";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    title: Option<String>,
    description: Option<String>,
    site_url: Option<String>,
    base_url: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
    author: Option<RawAuthor>,
    item_link: Option<String>,
    id_prefix: Option<String>,
    max_items: Option<i64>,
    archive_page_size: Option<i64>,
    archive_max_age: Option<i64>,
    hubs: Option<Vec<String>>,
    websub_timeout_secs: Option<i64>,
    summary_chars: Option<i64>,
    articles: Option<PathBuf>,
    output: Option<PathBuf>,
    max_article_bytes: Option<i64>,
    max_articles: Option<i64>,
    addr: Option<String>,
    cache_max_age: Option<i64>,
    debounce_ms: Option<i64>,
    rescan_interval_secs: Option<i64>,
    header_read_timeout_secs: Option<i64>,
    max_header_bytes: Option<i64>,
    max_connections: Option<i64>,
    shutdown_timeout_secs: Option<i64>,
    // What subscribers see: languages, icons, moved and retired feeds.
    languages: Option<Vec<String>>,
    icon: Option<String>,
    logo: Option<String>,
    redirects: Option<BTreeMap<String, String>>,
    gone: Option<Vec<String>>,
    // Caches in front.
    stale_while_revalidate_secs: Option<i64>,
    stale_if_error_secs: Option<i64>,
    // TLS.
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    // Operations.
    access_log: Option<PathBuf>,
    min_poll_interval_secs: Option<i64>,
    // Subscriber statistics.
    stats: Option<bool>,
    stats_db: Option<PathBuf>,
    admin_token: Option<String>,
    trusted_proxies: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawAuthor {
    Name(String),
    Full { name: String, email: Option<String> },
}

/// Values given on the command line; each one, when present, wins over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--articles`
    pub articles: Option<PathBuf>,
    /// `--out`
    pub output: Option<PathBuf>,
    /// `--base-url`
    pub base_url: Option<String>,
    /// `--addr`
    pub addr: Option<String>,
}

impl Config {
    /// Loads the configuration: the file named by `explicit`, else `feedpub.toml` in the
    /// current folder if it exists, else the defaults; then applies `overrides`.
    ///
    /// Relative `articles` and `output` paths in a file are taken relative to that file.
    pub fn load(explicit: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let (path, text) = match explicit {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                (path.to_path_buf(), Some(text))
            }
            None => {
                let path = PathBuf::from(DEFAULT_CONFIG_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => (path, Some(text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => (path, None),
                    Err(source) => return Err(ConfigError::Read { path, source }),
                }
            }
        };
        Config::parse(&path, text.as_deref().unwrap_or(""), overrides)
    }

    /// Parses and validates configuration text; `path` names it in errors and anchors
    /// relative folders.
    pub fn parse(path: &Path, text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: syntax_message(text, &e),
        })?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };

        let base_url_explicit = overrides.base_url.is_some() || raw.base_url.is_some();
        let base_url = overrides
            .base_url
            .clone()
            .or(raw.base_url)
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
        let base_url = validate_url(&base_url).map_err(|m| invalid("base_url", m))?;
        let site_url = match raw.site_url {
            Some(url) => validate_url(&url).map_err(|m| invalid("site_url", m))?,
            None => base_url.clone(),
        };
        let timezone_name = raw.timezone.unwrap_or_else(|| "UTC".to_string());
        let timezone: Tz = timezone_name.parse().map_err(|_| {
            invalid(
                "timezone",
                format!("`{timezone_name}` is not an IANA time zone name"),
            )
        })?;
        let author = match raw.author {
            None => Author {
                name: "feedpub".into(),
                email: None,
            },
            Some(RawAuthor::Name(name)) => Author { name, email: None },
            Some(RawAuthor::Full { name, email }) => Author { name, email },
        };
        if author.name.trim().is_empty() {
            return Err(invalid("author", "the name must not be empty".into()));
        }
        let item_link = raw
            .item_link
            .unwrap_or_else(|| "{base_url}/articles/{id}.html".to_string());
        if !item_link.contains("{id}") {
            return Err(invalid(
                "item_link",
                "the template must contain `{id}`".into(),
            ));
        }
        let id_prefix = raw
            .id_prefix
            .unwrap_or_else(|| "tag:feedpub.invalid,2018:article:".to_string());
        if id_prefix.is_empty()
            || !id_prefix.contains(':')
            || id_prefix.chars().any(char::is_whitespace)
        {
            return Err(invalid(
                "id_prefix",
                "must be the start of an absolute URI without spaces, such as `tag:example.org,2018:article:`".into(),
            ));
        }
        let language = normalize_tag(raw.language.as_deref().unwrap_or("en"))
            .map_err(|m| invalid("language", m))?;
        let languages = Languages {
            site: language.clone(),
            listed: raw
                .languages
                .unwrap_or_default()
                .iter()
                .map(|tag| normalize_tag(tag))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| invalid("languages", m))?,
        };
        let image = |key: &'static str, value: Option<String>| {
            value
                .map(|v| resolve_image(&v, &site_url))
                .transpose()
                .map_err(|m| invalid(key, m))
        };
        let icon = image("icon", raw.icon)?;
        let logo = image("logo", raw.logo)?;
        let (redirects, gone) = validate_moves(
            raw.redirects.unwrap_or_default(),
            raw.gone.unwrap_or_default(),
        )
        .map_err(|(key, m)| invalid(key, m))?;
        let addr_text = overrides
            .addr
            .clone()
            .or(raw.addr)
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let addr: SocketAddr = addr_text.parse().map_err(|_| {
            invalid(
                "addr",
                format!("`{addr_text}` is not an address such as 127.0.0.1:8080"),
            )
        })?;

        let positive =
            |key: &'static str, v: Option<i64>, default: i64| -> Result<u64, ConfigError> {
                let v = v.unwrap_or(default);
                if v < 1 {
                    return Err(invalid(key, format!("{v} must be at least 1")));
                }
                Ok(v as u64)
            };
        let non_negative =
            |key: &'static str, v: Option<i64>, default: i64| -> Result<u64, ConfigError> {
                let v = v.unwrap_or(default);
                if v < 0 {
                    return Err(invalid(key, format!("{v} must not be negative")));
                }
                Ok(v as u64)
            };

        // Every duration is added to the server's clock; one past its end panicked there.
        let at_most = |key: &'static str, v: u64, max: u64| -> Result<u64, ConfigError> {
            if v > max {
                return Err(invalid(key, format!("{v} must be at most {max}")));
            }
            Ok(v)
        };
        let seconds = |key: &'static str, v: Option<i64>, default: i64, least: i64| {
            let v = if least > 0 {
                positive(key, v, default)?
            } else {
                non_negative(key, v, default)?
            };
            at_most(key, v, MAX_DURATION_SECS).map(Duration::from_secs)
        };

        let max_items = positive("max_items", raw.max_items, 50)? as usize;
        let archive_page_size =
            positive("archive_page_size", raw.archive_page_size, max_items as i64)? as usize;
        if archive_page_size > max_items {
            return Err(invalid(
                "archive_page_size",
                format!("{archive_page_size} must not exceed max_items ({max_items}), or the newest articles of no complete page could fall out of every document"),
            ));
        }
        let hubs = raw
            .hubs
            .unwrap_or_default()
            .iter()
            .map(|h| validate_url(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| invalid("hubs", m))?;
        let resolve = |p: PathBuf| if p.is_relative() { base_dir.join(p) } else { p };
        let tls = match (raw.tls_cert, raw.tls_key) {
            (Some(cert), Some(key)) => Some((resolve(cert), resolve(key))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "tls_key",
                    "`tls_cert` is set: the private key's file is needed too".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "tls_cert",
                    "`tls_key` is set: the certificate's file is needed too".into(),
                ))
            }
        };
        let stats = parse_stats(
            raw.stats,
            raw.stats_db,
            raw.admin_token,
            raw.trusted_proxies,
            &resolve,
        )
        .map_err(|(key, m)| invalid(key, m))?;
        Ok(Config {
            title: raw.title.unwrap_or_else(|| "feedpub".to_string()),
            description: raw
                .description
                .unwrap_or_else(|| "Articles published by feedpub".to_string()),
            site_url,
            base_url,
            base_url_explicit,
            language,
            languages,
            icon,
            logo,
            redirects,
            gone,
            timezone,
            author,
            item_link,
            id_prefix,
            max_items,
            archive_page_size,
            archive_max_age: non_negative("archive_max_age", raw.archive_max_age, 86_400)?,
            hubs,
            websub_timeout: seconds("websub_timeout_secs", raw.websub_timeout_secs, 10, 1)?,
            summary_chars: positive("summary_chars", raw.summary_chars, 300)? as usize,
            articles: overrides
                .articles
                .clone()
                .unwrap_or_else(|| resolve(raw.articles.unwrap_or_else(|| "seeds".into()))),
            output: overrides
                .output
                .clone()
                .unwrap_or_else(|| resolve(raw.output.unwrap_or_else(|| "feeds".into()))),
            max_article_bytes: positive("max_article_bytes", raw.max_article_bytes, 1024 * 1024)?,
            max_articles: positive(
                "max_articles",
                raw.max_articles,
                DEFAULT_MAX_ARTICLES as i64,
            )?,
            addr,
            cache_max_age: non_negative("cache_max_age", raw.cache_max_age, 300)?,
            stale_while_revalidate: non_negative(
                "stale_while_revalidate_secs",
                raw.stale_while_revalidate_secs,
                60,
            )?,
            stale_if_error: non_negative("stale_if_error_secs", raw.stale_if_error_secs, 86_400)?,
            debounce: Duration::from_millis(at_most(
                "debounce_ms",
                non_negative("debounce_ms", raw.debounce_ms, 200)?,
                MAX_DURATION_SECS * 1000,
            )?),
            rescan_interval: seconds("rescan_interval_secs", raw.rescan_interval_secs, 30, 1)?,
            header_read_timeout: seconds(
                "header_read_timeout_secs",
                raw.header_read_timeout_secs,
                10,
                1,
            )?,
            max_header_bytes: at_most(
                "max_header_bytes",
                positive("max_header_bytes", raw.max_header_bytes, 16 * 1024)?,
                MAX_HEADER_BYTES as u64,
            )?
            .max(8192) as usize,
            max_connections: positive("max_connections", raw.max_connections, 10_000)? as usize,
            tls,
            access_log: raw
                .access_log
                .map(|p| if p == Path::new("-") { p } else { resolve(p) }),
            min_poll_interval: seconds("min_poll_interval_secs", raw.min_poll_interval_secs, 0, 0)?,
            shutdown_timeout: seconds("shutdown_timeout_secs", raw.shutdown_timeout_secs, 10, 1)?,
            stats,
        })
    }

    /// Whether `other` gives the same bytes and response headers as this configuration: the
    /// keys that only say how to run (folders, address, timeouts, limits) are left out. Every
    /// field is named, so that a new one has to be put on one side or the other.
    pub fn same_output(&self, other: &Config) -> bool {
        let Config {
            title,
            description,
            site_url,
            base_url,
            base_url_explicit: _,
            language,
            languages,
            icon,
            logo,
            redirects,
            gone,
            stale_while_revalidate,
            stale_if_error,
            timezone,
            author,
            item_link,
            id_prefix,
            max_items,
            archive_page_size,
            archive_max_age,
            hubs,
            websub_timeout: _,
            summary_chars,
            articles: _,
            output: _,
            max_article_bytes: _,
            max_articles: _,
            addr: _,
            cache_max_age,
            debounce: _,
            rescan_interval: _,
            header_read_timeout: _,
            max_header_bytes: _,
            max_connections: _,
            tls: _,
            access_log: _,
            min_poll_interval: _,
            shutdown_timeout: _,
            stats: _,
        } = self;
        *title == other.title
            && *description == other.description
            && *site_url == other.site_url
            && *base_url == other.base_url
            && *language == other.language
            && *languages == other.languages
            && *icon == other.icon
            && *logo == other.logo
            && *redirects == other.redirects
            && *gone == other.gone
            && *stale_while_revalidate == other.stale_while_revalidate
            && *stale_if_error == other.stale_if_error
            && *timezone == other.timezone
            && *author == other.author
            && *item_link == other.item_link
            && *id_prefix == other.id_prefix
            && *max_items == other.max_items
            && *archive_page_size == other.archive_page_size
            && *archive_max_age == other.archive_max_age
            && *hubs == other.hubs
            && *summary_chars == other.summary_chars
            && *cache_max_age == other.cache_max_age
    }

    /// The URL of a feed or page served at `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// The absolute URL of an image given as `value`: an http(s) URL as it is, or a relative
/// reference resolved against `site_url` taken as a folder (`icon.png` is
/// `{site_url}/icon.png`, `/icon.png` is at the root of its host).
fn resolve_image(value: &str, site_url: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "`{value}` is not a URL or a relative path such as `icon.png` or `/images/icon.png`"
        )
    };
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
    {
        return Err(bad());
    }
    if let Ok(absolute) = url::Url::parse(value) {
        return match absolute.scheme() {
            "http" | "https" if absolute.has_host() => Ok(absolute.to_string()),
            _ => Err(bad()),
        };
    }
    let base = url::Url::parse(&format!("{site_url}/")).map_err(|_| bad())?;
    base.join(value).map(String::from).map_err(|_| bad())
}

/// Checks `redirects` and `gone`: every path starts with `/`; no redirect or retired path
/// is one feedpub serves (the built-in aliases may be redirected elsewhere); every redirect
/// ends, after following the others and the aliases, at a path feedpub serves, without a
/// loop; no path is both redirected and retired. Redirects come back one hop each. The
/// error names the key.
#[allow(clippy::type_complexity)]
fn validate_moves(
    redirects: BTreeMap<String, String>,
    gone: Vec<String>,
) -> Result<(BTreeMap<String, String>, BTreeSet<String>), (&'static str, String)> {
    let path_error = |path: &str| {
        (!path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#'))
            .then(|| format!("`{path}` is not a path such as `/feed/` (it must start with `/`, without spaces, query or fragment)"))
    };
    let served = |path: &str| {
        !matches!(
            Route::parse(path),
            Route::NotFound | Route::Moved(_) | Route::OldArticle(_)
        )
    };
    let mut resolved = BTreeMap::new();
    for (from, to) in &redirects {
        if let Some(e) = path_error(from).or_else(|| path_error(to)) {
            return Err(("redirects", e));
        }
        if served(from) {
            return Err((
                "redirects",
                format!("`{from}` is a path feedpub serves; it cannot be redirected"),
            ));
        }
        let mut seen = vec![from.as_str()];
        let mut target = to.as_str();
        loop {
            if seen.contains(&target) {
                return Err((
                    "redirects",
                    format!(
                        "`{from}` redirects in a loop: {} -> {target}",
                        seen.join(" -> ")
                    ),
                ));
            }
            seen.push(target);
            if let Some(next) = redirects.get(target) {
                target = next;
            } else if let Route::Moved(next) = Route::parse(target) {
                target = next;
            } else {
                break;
            }
        }
        if !served(target) {
            return Err((
                "redirects",
                format!("`{from}` redirects to `{target}`, which is not a path feedpub serves"),
            ));
        }
        resolved.insert(from.clone(), target.to_string());
    }
    let mut retired = BTreeSet::new();
    for path in gone {
        if let Some(e) = path_error(&path) {
            return Err(("gone", e));
        }
        if served(&path) {
            return Err((
                "gone",
                format!("`{path}` is a path feedpub serves; it cannot be retired"),
            ));
        }
        if resolved.contains_key(&path) {
            return Err((
                "gone",
                format!("`{path}` is both redirected (`redirects`) and retired"),
            ));
        }
        retired.insert(path);
    }
    Ok((resolved, retired))
}

/// The statistics keys, validated: the key and the message of the first bad one.
fn parse_stats(
    enabled: Option<bool>,
    db: Option<PathBuf>,
    token: Option<String>,
    proxies: Option<Vec<String>>,
    resolve: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<StatsConfig, (&'static str, String)> {
    let admin_token = match token {
        None => None,
        Some(t) if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err((
                "admin_token",
                "must be at least 16 printable characters without spaces".into(),
            ))
        }
        Some(t) => Some(Secret(t)),
    };
    let trusted_proxies = proxies
        .unwrap_or_default()
        .iter()
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    (
                        "trusted_proxies",
                        format!("`{p}` is not an address or network such as 10.0.0.0/8"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(StatsConfig {
        enabled: enabled.unwrap_or(true),
        db: resolve(db.unwrap_or_else(|| DEFAULT_STATS_DB.into())),
        admin_token,
        trusted_proxies,
    })
}

/// The message of a TOML error `e` in `text`: `line L, column C, key K: message`. The
/// parser's own rendering quotes the line, which would print a secret such as `admin_token`
/// to the terminal and the logs; the key of the line says as much without it. The message
/// of an error in the admin token's value (a number, say) is not shown either.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end().replace('\n', " ");
    let Some(at) = e.span().and_then(|span| text.get(..span.start)) else {
        return message;
    };
    let line_start = at.rfind('\n').map_or(0, |i| i + 1);
    let line = at.matches('\n').count() + 1;
    let column = at[line_start..].chars().count() + 1;
    let key = text[line_start..]
        .lines()
        .next()
        .and_then(|l| l.split_once('='))
        .map(|(key, _)| key.trim().trim_matches(['"', '\'']))
        .filter(|key| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
    match key {
        Some("admin_token") => {
            format!("line {line}, column {column}, key `admin_token`: not a valid value (not shown: it is a secret)")
        }
        Some(key) => format!("line {line}, column {column}, key `{key}`: {message}"),
        None => format!("line {line}, column {column}: {message}"),
    }
}

/// Checks that `url` is an absolute http(s) URL and removes a trailing slash.
fn validate_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim();
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| format!("`{url}` must start with http:// or https://"))?;
    if rest.is_empty()
        || rest.starts_with('/')
        || trimmed
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>')
    {
        return Err(format!("`{url}` is not an absolute URL with a host"));
    }
    Ok(trimmed.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {

    #[test]
    fn statistics_keys_are_validated_and_the_database_sits_beside_the_file() {
        let parse = |text: &str| {
            Config::parse(
                Path::new("/etc/feedpub/feedpub.toml"),
                text,
                &Overrides::default(),
            )
        };
        let config = parse("").unwrap();
        assert!(config.stats.enabled);
        assert_eq!(
            config.stats.db,
            Path::new("/etc/feedpub/feedpub-stats.sqlite")
        );
        assert!(config.stats.admin_token.is_none() && config.stats.trusted_proxies.is_empty());
        let config = parse(
            "stats = false\nstats_db = \"/var/lib/s.sqlite\"\nadmin_token = \"0123456789abcdefXYZ\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]",
        )
        .unwrap();
        assert!(!config.stats.enabled);
        assert_eq!(config.stats.db, Path::new("/var/lib/s.sqlite"));
        assert_eq!(config.stats.trusted_proxies.len(), 3);
        assert!(
            !format!("{config:?}").contains("0123456789abcdefXYZ"),
            "the token is never printed"
        );
        for (text, key) in [
            ("admin_token = \"short\"", "admin_token"),
            (
                "admin_token = \"has a space in it somewhere\"",
                "admin_token",
            ),
            ("trusted_proxies = [\"10.0.0.0/33\"]", "trusted_proxies"),
            ("trusted_proxies = [\"proxy.example\"]", "trusted_proxies"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        let here = Config::parse(Path::new("feedpub.toml"), "", &Overrides::default()).unwrap();
        assert_eq!(here.stats.db, Path::new("feedpub-stats.sqlite"));
    }
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("feedpub.toml"), text, &Overrides::default())
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(c.timezone, chrono_tz::UTC);
        assert_eq!(c.max_items, 50);
        assert_eq!(c.summary_chars, 300);
        assert_eq!(c.max_article_bytes, 1024 * 1024);
        assert_eq!(c.max_articles, DEFAULT_MAX_ARTICLES);
        assert_eq!(c.articles, PathBuf::from("seeds"));
        assert_eq!(c.output, PathBuf::from("feeds"));
        assert_eq!(c.cache_max_age, 300);
    }

    #[test]
    fn a_syntax_error_names_its_line_and_key_and_never_shows_the_admin_token() {
        let e = parse("title = \"x\"\nadmin_token = \"0123456789abcdefSECRET\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("feedpub.toml: line 2, column "), "{e}");
        assert!(e.contains("`admin_token`") && !e.contains("SECRET"), "{e}");
        let e = parse("admin_token = 1234567890123456")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("1234567890123456"), "{e}");
        let e = parse("max_items = \"ten\"").unwrap_err().to_string();
        assert!(e.contains("line 1, column 13, key `max_items`"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn durations_past_a_year_and_request_heads_past_a_mebibyte_are_refused() {
        for (text, key) in [
            (
                "header_read_timeout_secs = 9223372036854775807",
                "header_read_timeout_secs",
            ),
            ("debounce_ms = 9223372036854775807", "debounce_ms"),
            ("rescan_interval_secs = 31536001", "rescan_interval_secs"),
            ("websub_timeout_secs = 31536001", "websub_timeout_secs"),
            (
                "min_poll_interval_secs = 31536001",
                "min_poll_interval_secs",
            ),
            ("shutdown_timeout_secs = 31536001", "shutdown_timeout_secs"),
            ("max_header_bytes = 4294967296", "max_header_bytes"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains(&format!("invalid value for `{key}`")),
                "{text}: {e}"
            );
        }
        let c = parse("header_read_timeout_secs = 31536000\nmax_header_bytes = 1048576").unwrap();
        assert_eq!(
            c.header_read_timeout,
            Duration::from_secs(MAX_DURATION_SECS)
        );
        assert_eq!(c.max_header_bytes, MAX_HEADER_BYTES);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("titel = \"x\"").unwrap_err().to_string();
        assert!(e.contains("titel"), "{e}");
    }

    #[test]
    fn bad_timezone_is_named() {
        let e = parse("timezone = \"Mars/Olympus\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timezone") && e.contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        for (text, key) in [
            ("max_items = 0", "max_items"),
            ("max_items = \"ten\"", "max_items"),
            ("base_url = \"ftp://x\"", "base_url"),
            ("item_link = \"{base_url}/a\"", "item_link"),
            ("addr = \"nowhere\"", "addr"),
            ("language = \"en us\"", "language"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn author_as_string_or_table() {
        assert_eq!(parse("author = \"Desk\"").unwrap().author.name, "Desk");
        let c = parse("author = { name = \"Desk\", email = \"d@example.org\" }").unwrap();
        assert_eq!(c.author.email.as_deref(), Some("d@example.org"));
    }

    #[test]
    fn overrides_win_and_trailing_slash_is_removed() {
        let o = Overrides {
            base_url: Some("https://feeds.example.org/".into()),
            ..Overrides::default()
        };
        let c = Config::parse(
            Path::new("x/feedpub.toml"),
            "base_url = \"http://a\"\narticles = \"in\"",
            &o,
        )
        .unwrap();
        assert_eq!(c.base_url, "https://feeds.example.org");
        assert_eq!(c.articles, PathBuf::from("x/in"));
    }

    #[test]
    fn languages_icons_and_moves_are_normalized_once() {
        let c = parse(
            "site_url = \"https://news.example/en/\"\nlanguage = \"EN-gb\"\nlanguages = [\"fa\", \"AR\"]\nicon = \"img/icon.png\"\nlogo = \"https://cdn.example/logo.svg\"\nredirects = { \"/a\" = \"/b\", \"/b\" = \"/feed\", \"/feed.xml\" = \"/atom.xml\" }\ngone = [\"/old.xml\"]",
        )
        .unwrap();
        assert_eq!(c.language, "en-GB");
        assert_eq!(c.languages.site, "en-GB");
        assert_eq!(c.languages.listed, ["fa", "ar"]);
        assert_eq!(
            c.icon.as_deref(),
            Some("https://news.example/en/img/icon.png")
        );
        assert_eq!(c.logo.as_deref(), Some("https://cdn.example/logo.svg"));
        // Chains through other redirects and the built-in aliases are one hop.
        assert_eq!(c.redirects["/a"], "/rss.xml");
        assert_eq!(c.redirects["/b"], "/rss.xml");
        assert_eq!(c.redirects["/feed.xml"], "/atom.xml");
        assert!(c.gone.contains("/old.xml"));
        let e = parse("icon = \"ftp://x.example/i.png\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid value for `icon`"), "{e}");
        let e = parse("redirects = { \"/a\" = \"/tags/x/feed.json\" }");
        assert!(e.is_ok(), "a tag's feed is a path feedpub serves: {e:?}");
    }
}
