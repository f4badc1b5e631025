//! Feed documents: a list of [`FeedItem`](crate::item::FeedItem)s becomes an RSS 2.0 channel
//! or an Atom 1.0 feed, serialized to bytes.

pub mod atom;
pub mod json;
pub mod rss;

use chrono::{DateTime, FixedOffset};

use crate::item::FeedItem;

/// The generator named in every feed.
pub const GENERATOR: &str = "feedpub";

/// The feed's date: the newest item's date, never the current time, so that the same
/// articles always give the same bytes. An empty feed is dated at the Unix epoch.
pub fn feed_date(items: &[FeedItem]) -> DateTime<FixedOffset> {
    items
        .iter()
        .map(|i| i.published)
        .max()
        .unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
}

use std::sync::Arc;

use crate::article::Article;
use crate::config::Config;
use crate::item::select_items;

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

/// The feed documents of one generation, from the same items.
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
}

impl Feeds {
    /// Selects the newest items of `articles` and renders every format.
    pub fn render(articles: &[Arc<Article>], config: &Config) -> Result<Feeds, RenderError> {
        let items = select_items(articles, config, config.max_items);
        Ok(Feeds {
            rss: rss::render_rss(&items, config)?,
            atom: atom::render_atom(&items, config)?,
            json: json::render_json(&items, config)?,
            items,
        })
    }

    /// Each document with its file name in the output folder.
    pub fn files(&self) -> [(&'static str, &[u8]); 3] {
        [
            ("rss.xml", &self.rss),
            ("atom.xml", &self.atom),
            ("feed.json", &self.json),
        ]
    }
}
