//! Feed documents: a list of [`FeedItem`]s and a [`FeedHead`] in, bytes out: an RSS 2.0
//! channel, an Atom 1.0 feed or a JSON Feed 1.1. Which items a document holds is decided
//! above, by the snapshot; nothing here selects.

pub mod archive;
pub mod atom;
pub mod json;
pub mod rss;

use chrono::{DateTime, FixedOffset};

use crate::config::Config;
use crate::item::FeedItem;
use crate::urls::{archive_path, language_feed_path, tag_feed_path, tag_slug, url_id, Format};

/// The generator named in every feed.
pub const GENERATOR: &str = "feedpub";

/// The namespace of RFC 5005 feed history (`fh:archive`).
pub const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// The feed's date: the newest item's date (of publication or correction), never the current time, so that the same
/// articles always give the same bytes. An empty feed is dated at the Unix epoch.
pub fn feed_date(items: &[FeedItem]) -> DateTime<FixedOffset> {
    items
        .iter()
        .map(|i| i.updated.max(i.published))
        .max()
        .unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
}

/// What a feed document says besides its items: its title and identity, where it is, where
/// the rest of the history is (RFC 5005), and which WebSub hubs to subscribe at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHead {
    /// The feed's title (RSS `title`, Atom `title`, JSON Feed `title`).
    pub title: String,
    /// The feed's permanent identity (Atom `id`).
    pub id: String,
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
    /// The feed's language (RSS `language`, Atom `xml:lang`, JSON Feed `language`) when it
    /// is not the site's: a language's own feed.
    pub language: Option<String>,
}

impl FeedHead {
    /// The head of the subscription feed of `format`: self, hubs, and the newest archive page.
    pub fn subscription(config: &Config, format: Format, archive_pages: usize) -> FeedHead {
        FeedHead {
            title: config.title.clone(),
            id: format!("{}feed", config.id_prefix),
            self_url: config.url(format.path()),
            prev_archive: (archive_pages > 0)
                .then(|| config.url(&archive_path(format, archive_pages))),
            hubs: config.hubs.clone(),
            ..FeedHead::default()
        }
    }

    /// The head of the `format` feed of the tag `tag`.
    pub fn tag(config: &Config, tag: &str, format: Format) -> FeedHead {
        FeedHead {
            title: tag_title(config, tag),
            id: format!("{}tags/{}", config.id_prefix, url_id(&tag_slug(tag))),
            self_url: config.url(&tag_feed_path(tag, format)),
            hubs: config.hubs.clone(),
            ..FeedHead::default()
        }
    }

    /// The head of the `format` feed of the articles in the language `code`.
    pub fn language_feed(config: &Config, code: &str, format: Format) -> FeedHead {
        FeedHead {
            title: language_title(config, code),
            id: format!("{}lang/{}", config.id_prefix, url_id(code)),
            self_url: config.url(&language_feed_path(code, format)),
            hubs: config.hubs.clone(),
            language: Some(code.to_string()),
            ..FeedHead::default()
        }
    }

    /// The feed's language: its own, else the site's.
    pub fn language<'a>(&'a self, config: &'a Config) -> &'a str {
        self.language.as_deref().unwrap_or(&config.language)
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

/// The title of a tag's feeds (and of their links on pages).
pub fn tag_title(config: &Config, tag: &str) -> String {
    format!("{}: {tag}", config.title)
}

/// The title of a language's feeds (and of their links on pages).
pub fn language_title(config: &Config, code: &str) -> String {
    format!("{} ({code})", config.title)
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

/// Renders `items` as a document of `format` with the links of `head`.
pub fn render(
    format: Format,
    items: &[FeedItem],
    config: &Config,
    head: &FeedHead,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Rss => Ok(rss::render_rss(items, config, head)?),
        Format::Atom => Ok(atom::render_atom(items, config, head)?),
        Format::Json => Ok(json::render_json(items, config, head)?),
    }
}
