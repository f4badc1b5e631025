//! Feed documents: a list of [`FeedItem`]s becomes an RSS 2.0
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
use crate::corpus::{Corpus, Ranking};
use crate::item::{items_of, url_id, FeedItem};

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

/// The URL-safe form of a tag: lower case, runs of anything but letters and digits made one
/// `-`.
pub fn tag_slug(tag: &str) -> String {
    let mut slug = String::with_capacity(tag.len());
    for c in tag.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

/// Every file of a generation for the output folder: the subscription feeds, and each tag's
/// feeds (given by slug) under `tags/{slug}/`.
pub fn output_files<'a>(
    feeds: &'a Feeds,
    tags: impl IntoIterator<Item = (&'a str, &'a Feeds)>,
) -> Vec<(String, &'a [u8])> {
    let mut files: Vec<(String, &[u8])> = feeds
        .files()
        .iter()
        .map(|(n, b)| (n.to_string(), *b))
        .collect();
    for (slug, tag_feeds) in tags {
        for (name, bytes) in tag_feeds.files() {
            files.push((format!("tags/{slug}/{name}"), bytes));
        }
    }
    files
}

/// The path of a tag's feed: `/tags/{slug}` followed by the subscription feed's `path`.
pub fn tag_path(tag: &str, path: &str) -> String {
    format!("/tags/{}{path}", url_id(&tag_slug(tag)))
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
}

impl FeedHead {
    /// The head of the subscription feed of `format`: self, hubs, and the newest archive page.
    pub fn subscription(config: &Config, format: Format, archive_pages: usize) -> FeedHead {
        FeedHead {
            title: config.title.clone(),
            id: format!("{}feed", config.id_prefix),
            self_url: config.url(format.path()),
            prev_archive: (archive_pages > 0)
                .then(|| config.url(&archive::path(format, archive_pages))),
            hubs: config.hubs.clone(),
            ..FeedHead::default()
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
    /// Every article of the feed, in feed order: the subscription feed's newest items, and
    /// the archive pages' older ones.
    pub ranking: Ranking,
    /// How many articles an archive page holds; 0 for a feed without archive pages.
    pub page_size: usize,
}

impl Feeds {
    /// Selects the newest items of `articles` and renders every format.
    pub fn render(articles: &[Arc<Article>], config: &Config) -> Result<Feeds, RenderError> {
        Feeds::render_ranking(Ranking::new(articles, config.timezone), config)
    }

    /// Renders the subscription feeds of the articles of `ranking`.
    pub fn render_ranking(ranking: Ranking, config: &Config) -> Result<Feeds, RenderError> {
        let pages = ranking.archive_pages(config.archive_page_size);
        let mut heads =
            [Format::Rss, Format::Atom].map(|f| FeedHead::subscription(config, f, pages));
        let json_head = FeedHead {
            self_url: config.url(json::PATH),
            prev_archive: None,
            ..heads[0].clone()
        };
        let [rss_head, atom_head] = &mut heads;
        Feeds::render_with(
            ranking,
            config,
            rss_head,
            atom_head,
            &json_head,
            config.archive_page_size,
        )
    }

    /// Renders the feeds of the tag `tag`, whose articles are those of `ranking`.
    pub fn render_tag_ranking(
        ranking: Ranking,
        config: &Config,
        tag: &str,
    ) -> Result<Feeds, RenderError> {
        let head = |path: &str| FeedHead {
            title: format!("{}: {tag}", config.title),
            id: format!("{}tags/{}", config.id_prefix, url_id(&tag_slug(tag))),
            self_url: config.url(&tag_path(tag, path)),
            hubs: config.hubs.clone(),
            ..FeedHead::default()
        };
        Feeds::render_with(
            ranking,
            config,
            &head(rss::PATH),
            &head(atom::PATH),
            &head(json::PATH),
            0,
        )
    }

    /// Renders the feeds of every tag of `articles`, as `(tag, feeds)` pairs sorted by slug;
    /// a tag is spelled as the tagged article that comes first by path spells it.
    pub fn render_tags(
        articles: &[Arc<Article>],
        config: &Config,
    ) -> Result<Vec<(String, Feeds)>, RenderError> {
        let corpus = Corpus::new(articles, config.timezone);
        corpus
            .tags()
            .map(|(_, tag)| {
                Feeds::render_tag_ranking(tag.ranking.clone(), config, tag.name())
                    .map(|feeds| (tag.name().to_string(), feeds))
            })
            .collect()
    }

    fn render_with(
        ranking: Ranking,
        config: &Config,
        rss_head: &FeedHead,
        atom_head: &FeedHead,
        json_head: &FeedHead,
        page_size: usize,
    ) -> Result<Feeds, RenderError> {
        let items = items_of(ranking.newest(config.max_items), config);
        Ok(Feeds {
            rss: rss::render_rss(&items, config, rss_head)?,
            atom: atom::render_atom(&items, config, atom_head)?,
            json: json::render_json(&items, config, json_head)?,
            items,
            ranking,
            page_size,
        })
    }

    /// How many archive pages there are.
    pub fn archive_pages(&self) -> usize {
        self.ranking.archive_pages(self.page_size)
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
        let page = self.ranking.archive_page(self.page_size, number)?;
        Some(archive::render_page(
            format,
            number,
            self.archive_pages(),
            &page,
            config,
        ))
    }

    /// Numbers of the archive pages whose bytes differ from those of `previous` (all of
    /// them without a previous generation). `first_moved` is the smallest oldest-first
    /// position whose article may have changed since then (see
    /// [`Moved`](crate::corpus::Moved)): the pages before the one that holds it are not
    /// compared, so that a new article costs only the newest pages.
    pub fn changed_archive_pages(
        &self,
        previous: Option<&Feeds>,
        first_moved: Option<usize>,
    ) -> Vec<usize> {
        let total = self.archive_pages();
        let Some(previous) = previous else {
            return (1..=total).collect();
        };
        let before = previous.archive_pages();
        let size = self.page_size.max(1);
        let unmoved = first_moved.map_or(total, |p| (p / size).min(total));
        let mut old = previous.ranking.iter().rev().skip(unmoved * size);
        let mut new = self.ranking.iter().rev().skip(unmoved * size);
        (1..=total)
            .filter(|&n| {
                let mut same_page = n <= before;
                if n > unmoved {
                    for _ in 0..size {
                        match (old.next(), new.next()) {
                            (Some(a), Some(b)) if Arc::ptr_eq(a, b) || a == b => {}
                            _ => same_page = false,
                        }
                    }
                }
                // A page's links name its neighbours: the newest page changes when a newer
                // page appears after it.
                let same_neighbours = (n < total) == (n < before);
                !(same_page && same_neighbours)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Overrides;

    fn md(name: &str, title: &str, date: &str, tags: &[&str]) -> Arc<Article> {
        let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
        let text = format!("+++\ntitle = \"{title}\"\ndate = {date}\ntags = [{}]\nauthor = \"Desk\"\n+++\nBody of {title}, see [more](more.html).\n", tags.join(", "));
        Arc::new(
            crate::markdown::parse(Path::new(name), &text)
                .unwrap()
                .article,
        )
    }

    #[test]
    fn tag_feeds_hold_exactly_the_tagged_articles() {
        let config = Config::parse(
            Path::new("t.toml"),
            "base_url = \"http://feeds.test\"\nsite_url = \"https://site.test/news\"",
            &Overrides::default(),
        )
        .unwrap();
        let articles = vec![
            md(
                "a.md",
                "Road works",
                "2024-01-01T10:00:00Z",
                &["Traffic", "City Hall"],
            ),
            md("b.md", "Bus lanes", "2024-01-02T10:00:00Z", &["traffic"]),
            md("c.md", "Budget", "2024-01-03T10:00:00Z", &["city hall"]),
            md("d.md", "Weather", "2024-01-04T10:00:00Z", &[]),
        ];
        let mut tags = Feeds::render_tags(&articles, &config).unwrap();
        let names: Vec<&str> = tags.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, vec!["City Hall", "Traffic"]);
        let (_, traffic) = tags.pop().unwrap();
        let titles: Vec<&str> = traffic
            .items
            .iter()
            .map(|i| i.article.title.as_str())
            .collect();
        assert_eq!(titles, vec!["Bus lanes", "Road works"]);
        let feed = atom_syndication::Feed::read_from(&traffic.atom[..]).unwrap();
        assert_eq!(feed.title.value, "feedpub: Traffic");
        assert!(feed
            .links
            .iter()
            .any(|l| l.rel == "self" && l.href == "http://feeds.test/tags/traffic/atom.xml"));
        assert_eq!(feed.entries[1].categories.len(), 2);
        assert_eq!(feed.entries[0].authors[0].name, "Desk");
        let channel = ::rss::Channel::read_from(&traffic.rss[..]).unwrap();
        assert_eq!(channel.items[0].categories[0].name, "traffic");
        let content = channel.items[0].content.as_deref().unwrap();
        assert!(
            content.contains("href=\"https://site.test/news/more.html\""),
            "{content}"
        );
        let json: serde_json::Value = serde_json::from_slice(&traffic.json).unwrap();
        assert_eq!(json["feed_url"], "http://feeds.test/tags/traffic/feed.json");
        assert_eq!(json["items"][0]["tags"][0], "traffic");

        let all = Feeds::render(&articles, &config).unwrap();
        let files: Vec<String> = output_files(&all, [("traffic", &traffic)])
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            files,
            vec![
                "rss.xml",
                "atom.xml",
                "feed.json",
                "tags/traffic/rss.xml",
                "tags/traffic/atom.xml",
                "tags/traffic/feed.json"
            ]
        );
    }

    #[test]
    fn tag_slugs() {
        assert_eq!(tag_slug("City Hall"), "city-hall");
        assert_eq!(tag_slug("  C++ & Rust! "), "c-rust");
        assert_eq!(tag_slug("ترافیک"), "ترافیک");
        assert_eq!(tag_path("City Hall", "/rss.xml"), "/tags/city-hall/rss.xml");
    }
}
