//! RFC 5005 archived feeds: the whole history, in stable pages.
//!
//! Articles are ordered oldest first and cut into pages of `archive_page_size`; only
//! complete pages are archive pages, and the newest articles not yet on a complete page are
//! in the subscription feed (`archive_page_size` is at most `max_items`, so none is left
//! out). Adding a newer article therefore never changes a complete page's items; at most
//! the newest page gains a `next-archive` link when a new page is completed after it.

use super::{render, FeedHead, RenderError};
use crate::config::Config;
use crate::item::FeedItem;
use crate::urls::{archive_path as path, Format};

/// The links of archive page `number` of `total`.
pub fn links(config: &Config, format: Format, number: usize, total: usize) -> FeedHead {
    FeedHead {
        title: config.title.clone(),
        id: format!("{}feed", config.id_prefix),
        self_url: config.url(&path(format, number)),
        current: Some(config.url(format.path())),
        prev_archive: (number > 1).then(|| config.url(&path(format, number - 1))),
        next_archive: (number < total).then(|| config.url(&path(format, number + 1))),
        archive: true,
        hubs: Vec::new(),
        language: None,
    }
}

/// Renders archive page `number` of `total`, whose items (newest first, like the
/// subscription feed) are `items`.
pub fn render_page(
    format: Format,
    number: usize,
    total: usize,
    items: &[FeedItem],
    config: &Config,
) -> Result<Vec<u8>, RenderError> {
    render(format, items, config, &links(config, format, number, total))
}
