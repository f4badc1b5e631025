//! Feed documents: a list of [`FeedItem`](crate::item::FeedItem)s becomes an RSS 2.0
//! channel, an Atom 1.0 feed or a JSON Feed 1.1, serialized to bytes; older items are
//! reachable through RFC 5005 archive pages.

pub mod archive;
pub mod atom;
pub mod json;
pub mod rss;

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use crate::article::Article;
use crate::config::Config;
use crate::item::{select_items, FeedItem};

/// The generator named in every feed.
pub const GENERATOR: &str = "feedpub";

/// The namespace of RFC 5005 feed history (`fh:archive`).
pub const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// The feed's date: the newest item's date, never the current time, so that the same
/// articles always give the same bytes. An empty feed is dated at the Unix epoch.
pub fn feed_date(items: &[FeedItem]) -> DateTime<FixedOffset> {
    items
        .iter()
        .map(|i| i.published)
        .max()
        .unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
}

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RSS 2.0
    Rss,
    /// Atom 1.0
    Atom,
}

impl Format {
    /// The format's name in archive paths.
    pub fn name(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
        }
    }

    /// The path of the subscription feed of this format.
    pub fn path(self) -> &'static str {
        match self {
            Format::Rss => rss::PATH,
            Format::Atom => atom::PATH,
        }
    }

    /// The media type of this format, as used in `type` attributes.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
        }
    }
}

/// The links of a document besides its items: where it is, where the rest of the history
/// is (RFC 5005), and which WebSub hubs to subscribe at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedLinks {
    /// `rel="self"`
    pub self_url: String,
    /// `rel="current"`: the subscription feed, on archive pages.
    pub current: Option<String>,
    /// `rel="prev-archive"`: the next older archive page.
    pub prev_archive: Option<String>,
    /// `rel="next-archive"`: the next newer archive page.
    pub next_archive: Option<String>,
    /// Whether this is an archive page (`fh:archive`).
    pub archive: bool,
    /// `rel="hub"`: WebSub hubs.
    pub hubs: Vec<String>,
}

impl FeedLinks {
    /// The links of the subscription feed at `path`: self, hubs, and the newest archive page.
    pub fn subscription(config: &Config, format: Format, archive_pages: usize) -> FeedLinks {
        FeedLinks {
            self_url: config.url(format.path()),
            prev_archive: (archive_pages > 0)
                .then(|| config.url(&archive::path(format, archive_pages))),
            hubs: config.hubs.clone(),
            ..FeedLinks::default()
        }
    }

    /// Every link as `(rel, href)`, in a fixed order.
    pub fn all(&self) -> Vec<(&'static str, &str)> {
        let mut links = vec![("self", self.self_url.as_str())];
        links.extend(self.current.as_deref().map(|u| ("current", u)));
        links.extend(self.prev_archive.as_deref().map(|u| ("prev-archive", u)));
        links.extend(self.next_archive.as_deref().map(|u| ("next-archive", u)));
        links.extend(self.hubs.iter().map(|u| ("hub", u.as_str())));
        links
    }
}

/// Why a feed could not be serialized.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The RSS writer failed.
    #[error("writing RSS: {0}")]
    Rss(#[from] ::rss::Error),
    /// The Atom writer failed.
    #[error("writing Atom: {0}")]
    Atom(#[from] ::atom_syndication::Error),
    /// The JSON Feed writer failed.
    #[error("writing JSON Feed: {0}")]
    Json(#[from] serde_json::Error),
}

/// The subscription feed documents of one generation, from the same items, and the
/// division of the whole history into archive pages.
#[derive(Debug, Clone)]
pub struct Feeds {
    /// The items, newest first, at most `max_items`.
    pub items: Vec<FeedItem>,
    /// The RSS 2.0 document.
    pub rss: Vec<u8>,
    /// The Atom 1.0 document.
    pub atom: Vec<u8>,
    /// The JSON Feed 1.1 document.
    pub json: Vec<u8>,
    /// Complete archive pages, oldest first; page `n` (from 1) is `archive[n - 1]`.
    pub archive: Vec<Vec<Arc<Article>>>,
}

impl Feeds {
    /// Selects the newest items of `articles` and renders every format.
    pub fn render(articles: &[Arc<Article>], config: &Config) -> Result<Feeds, RenderError> {
        let items = select_items(articles, config, config.max_items);
        let archive = archive::paginate(articles, config);
        Ok(Feeds {
            rss: rss::render_rss(
                &items,
                config,
                &FeedLinks::subscription(config, Format::Rss, archive.len()),
            )?,
            atom: atom::render_atom(
                &items,
                config,
                &FeedLinks::subscription(config, Format::Atom, archive.len()),
            )?,
            json: json::render_json(&items, config)?,
            items,
            archive,
        })
    }

    /// Each subscription document with its file name in the output folder.
    pub fn files(&self) -> [(&'static str, &[u8]); 3] {
        [
            ("rss.xml", &self.rss),
            ("atom.xml", &self.atom),
            ("feed.json", &self.json),
        ]
    }

    /// Renders archive page `number` (from 1) in `format`; `None` when there is no such page.
    pub fn archive_page(
        &self,
        format: Format,
        number: usize,
        config: &Config,
    ) -> Option<Result<Vec<u8>, RenderError>> {
        let page = self.archive.get(number.checked_sub(1)?)?;
        Some(archive::render_page(
            format,
            number,
            self.archive.len(),
            page,
            config,
        ))
    }

    /// Numbers of the archive pages whose bytes differ from those of `previous` (all of
    /// them without a previous generation).
    pub fn changed_archive_pages(&self, previous: Option<&Feeds>) -> Vec<usize> {
        (1..=self.archive.len())
            .filter(|&n| {
                let Some(previous) = previous else {
                    return true;
                };
                let same_page = previous.archive.get(n - 1).is_some_and(|old| {
                    old.len() == self.archive[n - 1].len()
                        && old
                            .iter()
                            .zip(&self.archive[n - 1])
                            .all(|(a, b)| Arc::ptr_eq(a, b) || a == b)
                });
                // A page's links name its neighbours: the newest page changes when a newer
                // page appears after it.
                let same_neighbours = (n < self.archive.len()) == (n < previous.archive.len());
                !(same_page && same_neighbours)
            })
            .collect()
    }
}
