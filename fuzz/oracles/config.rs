//! The contract of the configuration parser (`feedpub::Config::parse`), checked by the
//! `config` fuzz target and by `tests/fuzz_replay.rs` over every kept input:
//!
//! - any text gives a configuration or an error, never a panic;
//! - an error names the file first, and never repeats the admin token written in the text;
//! - a configuration keeps every rule the keys document: limits at least 1 (and
//!   `archive_page_size` at most `max_items`, `max_header_bytes` at least 8192), absolute
//!   http(s) URLs without a trailing slash, an item link with `{id}`, an identity prefix
//!   with a scheme and no spaces, a named author, languages in their canonical form whose
//!   feeds can be requested, redirects of one hop each to a path feedpub serves, retired
//!   paths that are neither served nor redirected, an admin token of 16 printable
//!   characters; and every duration can be added to the clock, as the server does;
//! - the same text gives the same configuration again.

use std::path::Path;
use std::time::{Instant, SystemTime};

use feedpub::urls::{language_feed_path, Format, Route};
use feedpub::{Config, Overrides};

/// The name the input is parsed under.
pub const NAME: &str = "fuzz/feedpub.toml";

/// Checks the contract for `data` read as a configuration file; `Err` says what broke.
pub fn check(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let path = Path::new(NAME);
    let config = match Config::parse(path, &text, &Overrides::default()) {
        Ok(config) => config,
        Err(e) => return check_error(&text, &e.to_string()),
    };
    check_limits(&config)?;
    check_text(&config)?;
    check_moves(&config)?;
    let again = Config::parse(path, &text, &Overrides::default())
        .map_err(|e| format!("parsed once, refused the second time: {e}"))?;
    if format!("{again:?}") != format!("{config:?}") || !config.same_output(&again) {
        return Err("the same text gives another configuration".into());
    }
    Ok(())
}

fn check_error(text: &str, message: &str) -> Result<(), String> {
    if !message.starts_with(&format!("{NAME}: ")) {
        return Err(format!("the error does not name the file first: {message}"));
    }
    // A token is repeated when the message holds it, and no longer holds it once the token
    // is written otherwise: what the message says anyway (its file, place or key) is not
    // the token's.
    for (line, token) in admin_tokens(text) {
        if !message.contains(token) {
            continue;
        }
        let other = "xyzw".chars().find(|&c| !token.contains(c)).unwrap_or('x');
        let changed: Vec<String> = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| {
                if i == line {
                    l.replacen(token, &other.to_string().repeat(token.len()), 1)
                } else {
                    l.to_string()
                }
            })
            .collect();
        let again = Config::parse(Path::new(NAME), &changed.join("\n"), &Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        if !again.contains(token) {
            return Err(format!("the error repeats the admin token: {message}"));
        }
    }
    Ok(())
}

/// The lines (by index) that assign `admin_token` and what they assign, when it looks like
/// a secret: a quoted string (to its closing quote or the line's end) or a number, 8
/// characters or more.
fn admin_tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    // Lines as `split` cuts them: a `\r` before a newline stays where it was.
    text.split('\n').enumerate().filter_map(|(i, line)| {
        let value = line.trim_start().strip_prefix("admin_token")?;
        let value = value.trim_start().strip_prefix('=')?.trim_start();
        let token = match value.strip_prefix(['"', '\'']) {
            Some(quoted) => &quoted[..quoted.find(['"', '\'']).unwrap_or(quoted.len())],
            None => {
                &value[..value
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(value.len())]
            }
        };
        (token.len() >= 8).then_some((i, token))
    })
}

fn check_limits(c: &Config) -> Result<(), String> {
    let at_least_one = [
        ("max_items", c.max_items as u64),
        ("archive_page_size", c.archive_page_size as u64),
        ("summary_chars", c.summary_chars as u64),
        ("max_article_bytes", c.max_article_bytes),
        ("max_articles", c.max_articles),
        ("max_connections", c.max_connections as u64),
        ("websub_timeout_secs", c.websub_timeout.as_secs()),
        ("rescan_interval_secs", c.rescan_interval.as_secs()),
        ("header_read_timeout_secs", c.header_read_timeout.as_secs()),
        ("shutdown_timeout_secs", c.shutdown_timeout.as_secs()),
    ];
    for (key, value) in at_least_one {
        if value < 1 {
            return Err(format!("{key} is {value}, less than 1"));
        }
    }
    if c.archive_page_size > c.max_items {
        return Err(format!(
            "archive_page_size {} exceeds max_items {}",
            c.archive_page_size, c.max_items
        ));
    }
    // HTTP/2 keeps the limit in 32 bits.
    if c.max_header_bytes < 8192 || u32::try_from(c.max_header_bytes).is_err() {
        return Err(format!("max_header_bytes is {}", c.max_header_bytes));
    }
    let durations = [
        ("websub_timeout_secs", c.websub_timeout),
        ("debounce_ms", c.debounce),
        ("rescan_interval_secs", c.rescan_interval),
        ("header_read_timeout_secs", c.header_read_timeout),
        ("min_poll_interval_secs", c.min_poll_interval),
        ("shutdown_timeout_secs", c.shutdown_timeout),
    ];
    let (now, wall) = (Instant::now(), SystemTime::now());
    for (key, duration) in durations {
        if now.checked_add(duration).is_none() || wall.checked_add(duration).is_none() {
            return Err(format!("{key} is {duration:?}, past the end of the clock"));
        }
    }
    Ok(())
}

fn check_text(c: &Config) -> Result<(), String> {
    let mut urls = vec![("base_url", &c.base_url), ("site_url", &c.site_url)];
    urls.extend(c.hubs.iter().map(|h| ("hubs", h)));
    urls.extend(c.icon.iter().map(|i| ("icon", i)));
    urls.extend(c.logo.iter().map(|l| ("logo", l)));
    for (key, url) in urls {
        let absolute = url.starts_with("http://") || url.starts_with("https://");
        if !absolute
            || url
                .chars()
                .any(|ch| ch.is_whitespace() || matches!(ch, '"' | '<' | '>'))
        {
            return Err(format!("{key} {url:?} is not an absolute http(s) URL"));
        }
    }
    for (key, url) in [("base_url", &c.base_url), ("site_url", &c.site_url)] {
        if url.ends_with('/') {
            return Err(format!("{key} {url:?} keeps a trailing slash"));
        }
    }
    if !c.item_link.contains("{id}") {
        return Err(format!("item_link {:?} without {{id}}", c.item_link));
    }
    if c.id_prefix.is_empty()
        || !c.id_prefix.contains(':')
        || c.id_prefix.chars().any(char::is_whitespace)
    {
        return Err(format!("id_prefix {:?}", c.id_prefix));
    }
    if c.author.name.trim().is_empty() {
        return Err("the author has no name".into());
    }
    if c.languages.site != c.language {
        return Err(format!(
            "language {:?} but the site's language is {:?}",
            c.language, c.languages.site
        ));
    }
    for code in std::iter::once(&c.language).chain(&c.languages.listed) {
        if feedpub::lang::normalize_tag(code).as_ref() != Ok(code) {
            return Err(format!("language {code:?} is not in its canonical form"));
        }
        for format in Format::ALL {
            let path = language_feed_path(code, format);
            if Route::parse(&path) != Route::Language(code.clone(), format) {
                return Err(format!(
                    "language {code:?}: its feed {path} cannot be requested"
                ));
            }
        }
    }
    if let Some(token) = &c.stats.admin_token {
        let token = token.expose();
        if token.len() < 16 || !token.iter().all(u8::is_ascii_graphic) {
            return Err("admin_token is short or has spaces".into());
        }
    }
    Ok(())
}

fn check_moves(c: &Config) -> Result<(), String> {
    let served = |path: &str| {
        !matches!(
            Route::parse(path),
            Route::NotFound | Route::Moved(_) | Route::OldArticle(_)
        )
    };
    let is_path = |path: &str| {
        path.starts_with('/')
            && !path
                .chars()
                .any(|ch| ch.is_whitespace() || ch.is_control() || matches!(ch, '?' | '#'))
    };
    for (from, to) in &c.redirects {
        if !is_path(from) || !is_path(to) {
            return Err(format!("redirect {from:?} -> {to:?}: not a path"));
        }
        if served(from) {
            return Err(format!("redirect of {from:?}, a path feedpub serves"));
        }
        if !served(to) || c.redirects.contains_key(to) {
            return Err(format!(
                "redirect {from:?} -> {to:?}: not one hop to a path feedpub serves"
            ));
        }
    }
    for path in &c.gone {
        if !is_path(path) || served(path) || c.redirects.contains_key(path) {
            return Err(format!(
                "retired {path:?}: not a path, served, or redirected"
            ));
        }
    }
    Ok(())
}
