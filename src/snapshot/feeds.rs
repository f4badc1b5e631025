//! The documents of one feed (the subscription feed, a tag's or a language's): which articles each holds,
//! rendered, and the cut of the whole history into RFC 5005 archive pages.

use std::sync::Arc;

use crate::article::Article;
use crate::config::Config;
use crate::corpus::{Corpus, Ranking};
use crate::feed::{archive, render, FeedHead, RenderError};
use crate::item::{items_of, FeedItem};

use crate::urls::Format;

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
            self_url: config.url(Format::Json.path()),
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
        Feeds::render_group(ranking, config, |format| FeedHead::tag(config, tag, format))
    }

    /// Renders the feeds of the articles in the language `code`, those of `ranking`: like a
    /// tag's, without archive pages.
    pub fn render_language_ranking(
        ranking: Ranking,
        config: &Config,
        code: &str,
    ) -> Result<Feeds, RenderError> {
        Feeds::render_group(ranking, config, |format| {
            FeedHead::language_feed(config, code, format)
        })
    }

    /// The feeds of a group of articles (a tag's, a language's), with the heads `head` makes
    /// for each format, and no archive pages.
    fn render_group(
        ranking: Ranking,
        config: &Config,
        head: impl Fn(Format) -> FeedHead,
    ) -> Result<Feeds, RenderError> {
        Feeds::render_with(
            ranking,
            config,
            &head(Format::Rss),
            &head(Format::Atom),
            &head(Format::Json),
            0,
        )
    }

    /// Renders the feeds of every tag of `articles`, as `(tag, feeds)` pairs sorted by slug;
    /// a tag is spelled as the tagged article that comes first by path spells it.
    pub fn render_tags(
        articles: &[Arc<Article>],
        config: &Config,
    ) -> Result<Vec<(String, Feeds)>, RenderError> {
        let corpus = Corpus::new(articles, config.timezone, &config.languages);
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
            rss: render(Format::Rss, &items, config, rss_head)?,
            atom: render(Format::Atom, &items, config, atom_head)?,
            json: render(Format::Json, &items, config, json_head)?,
            items,
            ranking,
            page_size,
        })
    }

    /// How many archive pages there are.
    pub fn archive_pages(&self) -> usize {
        self.ranking.archive_pages(self.page_size)
    }

    /// The document of `format`.
    pub fn document(&self, format: Format) -> &[u8] {
        match format {
            Format::Rss => &self.rss,
            Format::Atom => &self.atom,
            Format::Json => &self.json,
        }
    }

    /// Renders archive page `number` (from 1) in `format`; `None` when there is no such page.
    pub fn archive_page(
        &self,
        format: Format,
        number: usize,
        config: &Config,
    ) -> Option<Result<Vec<u8>, RenderError>> {
        let items = self.page_items(number, config)?;
        Some(archive::render_page(
            format,
            number,
            self.archive_pages(),
            &items,
            config,
        ))
    }

    /// The items of archive page `number` (from 1), newest first like the subscription feed;
    /// `None` when there is no such page.
    pub fn page_items(&self, number: usize, config: &Config) -> Option<Vec<FeedItem>> {
        let page = self.ranking.archive_page(self.page_size, number)?;
        Some(items_of(page.iter().rev(), config))
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
            crate::article::markdown::parse(Path::new(name), &text)
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
    }
}

/// The RFC 5005 history as the feeds cut it.
#[cfg(test)]
mod archive_tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::config::Overrides;

    fn config() -> Config {
        Config::parse(
            Path::new("t.toml"),
            "max_items = 5\nbase_url = \"http://feeds.test\"\ntimezone = \"Asia/Tehran\"",
            &Overrides::default(),
        )
        .unwrap()
    }

    fn articles(n: u32) -> Vec<Arc<Article>> {
        (1..=n)
            .map(|i| {
                let text = format!(
                    "Story {i}\n\nBody {i}.\n\n10:00 - 2020/{}/{} / number : {i} / Show Count : 1",
                    1 + (i / 28) % 12,
                    1 + i % 28
                );
                Arc::new(
                    Article::parse(Path::new(&format!("{i}.txt")), &text)
                        .unwrap()
                        .article,
                )
            })
            .collect()
    }

    fn links_of(doc: &[u8]) -> (Vec<String>, Vec<(String, String)>, bool) {
        let feed = atom_syndication::Feed::read_from(doc).unwrap();
        let ids = feed.entries.iter().map(|e| e.id.clone()).collect();
        let links = feed
            .links
            .iter()
            .map(|l| (l.rel.clone(), l.href.clone()))
            .collect();
        let archived = feed
            .extensions
            .get("fh")
            .is_some_and(|m| m.contains_key("archive"));
        (ids, links, archived)
    }

    fn page_number(href: &str) -> usize {
        href.rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".xml")
            .parse()
            .unwrap()
    }

    #[test]
    fn walking_prev_archive_collects_every_article_once() {
        let config = config();
        let all = articles(23);
        let feeds = Feeds::render(&all, &config).unwrap();
        assert_eq!(feeds.archive_pages(), 4);
        let (mut seen, links, archived) = links_of(&feeds.atom);
        assert!(!archived);
        let mut next = links
            .iter()
            .find(|(rel, _)| rel == "prev-archive")
            .map(|(_, h)| h.clone());
        let mut archived_ids = Vec::new();
        let mut pages = 0;
        while let Some(href) = next {
            let n = page_number(&href);
            let doc = feeds
                .archive_page(Format::Atom, n, &config)
                .unwrap()
                .unwrap();
            let (ids, links, archived) = links_of(&doc);
            assert!(archived, "page {n} carries fh:archive");
            assert!(links.contains(&("current".into(), "http://feeds.test/atom.xml".into())));
            assert!(links.contains(&("self".into(), href.clone())));
            archived_ids.extend(ids.clone());
            seen.extend(ids);
            pages += 1;
            next = links
                .iter()
                .find(|(rel, _)| rel == "prev-archive")
                .map(|(_, h)| h.clone());
        }
        assert_eq!(pages, 4);
        let unique: BTreeSet<_> = archived_ids.iter().collect();
        assert_eq!(
            unique.len(),
            archived_ids.len(),
            "no article is on two archive pages"
        );
        let expected: BTreeSet<String> = all
            .iter()
            .map(|a| format!("{}{}", config.id_prefix, a.id))
            .collect();
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
    }

    #[test]
    fn rss_archive_pages_carry_fh_archive_and_links() {
        let config = config();
        let feeds = Feeds::render(&articles(12), &config).unwrap();
        let page = String::from_utf8(
            feeds
                .archive_page(Format::Rss, 1, &config)
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert!(page.contains("xmlns:fh=\"http://purl.org/syndication/history/1.0\""));
        assert!(page.contains("<fh:archive"));
        assert!(page.contains("rel=\"next-archive\""));
        assert!(!page.contains("rel=\"prev-archive\""));
        let channel = ::rss::Channel::read_from(page.as_bytes()).unwrap();
        assert_eq!(channel.items.len(), 5);
        assert!(feeds.archive_page(Format::Rss, 3, &config).is_none());
        let sub = String::from_utf8(feeds.rss.clone()).unwrap();
        assert!(sub.contains("href=\"http://feeds.test/archive/rss/2.xml\" rel=\"prev-archive\""));
    }

    #[test]
    fn a_new_article_changes_at_most_the_newest_archive_page() {
        let config = config();
        let render_all = |feeds: &Feeds| -> Vec<Vec<u8>> {
            (1..=feeds.archive_pages())
                .map(|n| {
                    feeds
                        .archive_page(Format::Atom, n, &config)
                        .unwrap()
                        .unwrap()
                })
                .collect()
        };
        let mut all = articles(24);
        let before = Feeds::render(&all, &config).unwrap();
        let newest_extra = articles(25).pop().unwrap();
        all.push(newest_extra);
        let after = Feeds::render(&all, &config).unwrap();
        assert_ne!(before.atom, after.atom, "the subscription feed changes");
        let (old, new) = (render_all(&before), render_all(&after));
        assert_eq!(new.len(), old.len() + 1);
        assert_eq!(old[..3], new[..3], "complete older pages keep their bytes");
        assert_ne!(old[3], new[3], "the newest page gains a next-archive link");
        // The newest article moves no older one: only the newest page's links change.
        let moved = Some(all.len() - 1);
        assert_eq!(
            after.changed_archive_pages(Some(&before), moved),
            vec![4, 5]
        );
        let again = Feeds::render(&all, &config).unwrap();
        assert!(again.changed_archive_pages(Some(&after), None).is_empty());
    }
}

/// JSON Feed beside RSS.
#[cfg(test)]
mod json_tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::Feeds;
    use crate::article::Article;
    use crate::config::{Config, Overrides};

    fn corpus() -> (Vec<Arc<Article>>, Config) {
        let config = Config::parse(
            Path::new("t.toml"),
            "timezone = \"Asia/Tehran\"\nbase_url = \"http://feeds.test\"\nauthor = { name = \"Desk\", email = \"desk@example.org\" }",
            &Overrides::default(),
        )
        .unwrap();
        let articles = [
            "12 May 2018\nFines & <fees>\n\nBody \"one\".\n\n12:55 - 2018/05/12 / number : 1 / Show Count : 5",
            "3 Sep 2019\nSecond\n\nBody two.",
        ]
        .iter()
        .enumerate()
        .map(|(i, text)| Arc::new(Article::parse(Path::new(&format!("{i}.txt")), text).unwrap().article))
        .collect();
        (articles, config)
    }

    #[test]
    fn json_feed_has_required_fields_and_same_items_as_rss() {
        let (articles, config) = corpus();
        let feeds = Feeds::render(&articles, &config).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&feeds.json).unwrap();
        assert_eq!(doc["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(doc["feed_url"], "http://feeds.test/feed.json");
        assert_eq!(doc["authors"][0]["url"], "mailto:desk@example.org");
        let items = doc["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        for item in items {
            assert!(item["id"].is_string(), "id is required");
            assert!(
                item["content_html"].is_string(),
                "content_html or content_text is required"
            );
        }
        assert_eq!(items[0]["title"], "Second");
        assert_eq!(items[1]["title"], "Fines & <fees>");
        assert_eq!(items[1]["date_published"], "2018-05-12T12:55:00+04:30");

        let json = feed_rs::parser::parse(&feeds.json[..]).unwrap();
        let rss = feed_rs::parser::parse(&feeds.rss[..]).unwrap();
        let ids =
            |f: &feed_rs::model::Feed| f.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&json), ids(&rss));
        let titles = |f: &feed_rs::model::Feed| {
            f.entries
                .iter()
                .map(|e| e.title.as_ref().unwrap().content.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(titles(&json), titles(&rss));
        let dates =
            |f: &feed_rs::model::Feed| f.entries.iter().map(|e| e.published).collect::<Vec<_>>();
        assert_eq!(dates(&json), dates(&rss));
    }
}
