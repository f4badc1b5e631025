//! Atom 1.0 (RFC 4287): items → `atom_syndication::Feed` → bytes.

use atom_syndication::{Content, Entry, Feed, Generator, Link, Person, Text};

use super::{feed_date, GENERATOR};
use crate::config::Config;
use crate::item::FeedItem;

/// The path the Atom feed is served at, relative to `base_url`.
pub const PATH: &str = "/atom.xml";

fn link(href: String, rel: &str, mime: &str) -> Link {
    Link {
        href,
        rel: rel.to_string(),
        mime_type: Some(mime.to_string()),
        ..Link::default()
    }
}

/// Builds the Atom feed of `items`.
pub fn build_atom(items: &[FeedItem], config: &Config) -> Feed {
    Feed {
        id: format!("{}feed", config.id_prefix),
        title: Text::plain(config.title.clone()),
        subtitle: Some(Text::plain(config.description.clone())),
        updated: feed_date(items),
        authors: vec![Person {
            name: config.author.name.clone(),
            email: config.author.email.clone(),
            uri: None,
            ..Person::default()
        }],
        links: vec![
            link(config.site_url.clone(), "alternate", "text/html"),
            link(config.url(PATH), "self", "application/atom+xml"),
        ],
        generator: Some(Generator {
            value: GENERATOR.to_string(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        lang: Some(config.language.clone()),
        entries: items.iter().map(atom_entry).collect(),
        ..Feed::default()
    }
}

fn atom_entry(item: &FeedItem) -> Entry {
    Entry {
        id: item.guid.clone(),
        title: Text::plain(item.article.title.clone()),
        updated: item.published,
        published: Some(item.published),
        links: vec![link(item.link.clone(), "alternate", "text/html")],
        summary: Some(Text::plain(item.summary.clone())),
        content: Some(Content {
            value: Some(item.content_html.clone()),
            content_type: Some("html".to_string()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// Serializes the feed.
pub fn render_atom(
    items: &[FeedItem],
    config: &Config,
) -> Result<Vec<u8>, atom_syndication::Error> {
    let mut out = build_atom(items, config).write_to(Vec::new())?;
    out.push(b'\n');
    Ok(out)
}
