//! A snapshot: everything the server answers with, from one generation of the articles.
//!
//! A snapshot is immutable; the server swaps a whole new one in, so every response is
//! from one generation, and the RSS and Atom of a generation always agree.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use crate::article::Article;
use crate::config::Config;
use crate::feed::{atom, json, output_files, rss, tag_path, tag_slug, Feeds, Format, RenderError};
use crate::item::{items_of, FeedItem};
use crate::pages;
use crate::render::{next_last_modified, Resource};

/// The RSS content type.
pub const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";
/// The Atom content type.
pub const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
/// The JSON Feed content type.
pub const JSON_FEED_TYPE: &str = "application/feed+json; charset=utf-8";
/// The HTML content type.
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// An article that has a page, with the time its page last changed.
#[derive(Debug, Clone)]
pub struct ArticleEntry {
    /// The article.
    pub article: Arc<Article>,
    /// When its page last changed.
    pub last_modified: SystemTime,
}

/// The three served documents of one feed.
#[derive(Debug, Clone)]
pub struct FeedResources {
    /// RSS 2.0
    pub rss: Resource,
    /// Atom 1.0
    pub atom: Resource,
    /// JSON Feed 1.1
    pub json: Resource,
}

impl FeedResources {
    fn all(&self) -> [(&Resource, &'static str); 3] {
        [
            (&self.rss, rss::PATH),
            (&self.atom, atom::PATH),
            (&self.json, json::PATH),
        ]
    }

    fn all_mut(&mut self) -> [&mut Resource; 3] {
        [&mut self.rss, &mut self.atom, &mut self.json]
    }
}

/// The feeds of one tag.
#[derive(Debug, Clone)]
pub struct TagFeeds {
    /// The tag as first spelled.
    pub name: String,
    /// Its documents and items.
    pub feeds: Feeds,
    /// What is served.
    pub resources: FeedResources,
}

/// One generation of served content.
#[derive(Debug)]
pub struct Snapshot {
    /// Counts regenerations that changed anything, from 1.
    pub generation: u64,
    /// The configuration it was made with.
    pub config: Arc<Config>,
    /// The subscription feeds' documents and items.
    pub feeds: Feeds,
    /// `/rss.xml`, `/atom.xml`, `/feed.json`
    pub main: FeedResources,
    /// Each tag's feeds, by slug: `/tags/{slug}/rss.xml`, ...
    pub tags: BTreeMap<String, TagFeeds>,
    /// `/`
    pub index: Resource,
    /// Every published article by id.
    pub articles: HashMap<String, ArticleEntry>,
    /// When each archive page (from 1, at index `n - 1`) last changed.
    pub archive_modified: Vec<SystemTime>,
    /// The configuration as text, to see whether a new one changes the pages.
    config_key: String,
}

impl Snapshot {
    /// Renders a snapshot of `articles`. Resources whose bytes equal those of `previous`
    /// keep its `Last-Modified`; changed ones get a later one. Without a previous snapshot,
    /// resources are dated `first_seen` (for instance the time the same feed was last written
    /// to disk), else `now`.
    pub fn build(
        config: Arc<Config>,
        articles: &[Arc<Article>],
        previous: Option<&Snapshot>,
        first_seen: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<Snapshot, RenderError> {
        let feeds = Feeds::render(articles, &config)?;
        let config_key = format!("{config:?}");
        let start = first_seen.unwrap_or(now).min(now);
        let make = |content_type, body: Vec<u8>, old: Option<&Resource>| {
            // Unchanged bytes keep their compressed variants and validators: compression
            // costs only what changed.
            if let Some(old) = old.filter(|o| o.digest == Resource::digest_of(&body)) {
                return old.clone();
            }
            let mut resource = Resource::new(content_type, body, start, true);
            if let Some(old) = old {
                resource.last_modified = next_last_modified(
                    Some((&old.digest, old.last_modified)),
                    &resource.digest,
                    now,
                );
            }
            resource
        };
        let link_header = |path: &str| {
            (!config.hubs.is_empty()).then(|| {
                let mut links: Vec<String> = config
                    .hubs
                    .iter()
                    .map(|h| format!("<{h}>; rel=\"hub\""))
                    .collect();
                links.push(format!("<{}>; rel=\"self\"", config.url(path)));
                links.join(", ")
            })
        };
        let resources = |feeds: &Feeds, prefix: &str, old: Option<&FeedResources>| FeedResources {
            rss: Resource {
                link_header: link_header(&format!("{prefix}{}", rss::PATH)),
                ..make(RSS_TYPE, feeds.rss.clone(), old.map(|o| &o.rss))
            },
            atom: Resource {
                link_header: link_header(&format!("{prefix}{}", atom::PATH)),
                ..make(ATOM_TYPE, feeds.atom.clone(), old.map(|o| &o.atom))
            },
            json: Resource {
                link_header: link_header(&format!("{prefix}{}", json::PATH)),
                ..make(JSON_FEED_TYPE, feeds.json.clone(), old.map(|o| &o.json))
            },
        };
        let main = resources(&feeds, "", previous.map(|p| &p.main));
        let mut tags = BTreeMap::new();
        for (name, tag_feeds) in Feeds::render_tags(articles, &config)? {
            let slug = tag_slug(&name);
            let prefix = tag_path(&name, "");
            let old = previous
                .and_then(|p| p.tags.get(&slug))
                .map(|t| &t.resources);
            let resources = resources(&tag_feeds, &prefix, old);
            tags.insert(
                slug,
                TagFeeds {
                    name,
                    feeds: tag_feeds,
                    resources,
                },
            );
        }
        let listed = items_of(&feeds.order, &config, config.max_items.max(100));
        let index = make(
            HTML_TYPE,
            pages::index_html(
                &config,
                &listed,
                articles.len(),
                &tags.values().map(|t| t.name.clone()).collect::<Vec<_>>(),
            )
            .into_bytes(),
            previous.map(|p| &p.index),
        );
        let same_config = previous.is_some_and(|p| p.config_key == config_key);
        let changed_pages =
            feeds.changed_archive_pages(previous.filter(|_| same_config).map(|p| &p.feeds));
        let archive_modified = (1..=feeds.archive.len())
            .map(|n| match previous {
                None => start,
                Some(p) if !changed_pages.contains(&n) => p.archive_modified[n - 1],
                Some(p) => {
                    let before = p.archive_modified.get(n - 1).copied();
                    let now = crate::render::truncate_to_second(now);
                    before.map_or(now, |b| now.max(b + std::time::Duration::from_secs(1)))
                }
            })
            .collect();
        let articles = articles
            .iter()
            .map(|a| {
                let kept = previous
                    .filter(|_| same_config)
                    .and_then(|p| p.articles.get(&a.id))
                    .filter(|old| old.article == *a)
                    .map(|old| old.last_modified);
                let last_modified = kept.unwrap_or(if previous.is_some() {
                    crate::render::truncate_to_second(now)
                } else {
                    start
                });
                (
                    a.id.clone(),
                    ArticleEntry {
                        article: Arc::clone(a),
                        last_modified,
                    },
                )
            })
            .collect();
        let digests =
            |main: &FeedResources, tags: &BTreeMap<String, TagFeeds>, index: &Resource| {
                let mut all: Vec<[u8; 32]> = main.all().iter().map(|(r, _)| r.digest).collect();
                for tag in tags.values() {
                    all.extend(tag.resources.all().iter().map(|(r, _)| r.digest));
                }
                all.push(index.digest);
                all
            };
        let changed = previous.is_none_or(|p| {
            !same_config || digests(&p.main, &p.tags, &p.index) != digests(&main, &tags, &index)
        });
        let generation = match previous {
            Some(p) if changed => p.generation + 1,
            Some(p) => p.generation,
            None => 1,
        };
        Ok(Snapshot {
            generation,
            config,
            feeds,
            main,
            tags,
            index,
            articles,
            archive_modified,
            config_key,
        })
    }

    /// Dates every resource of a first snapshot at `time` (the time the same feeds were
    /// written to disk by an earlier run).
    pub fn date_all(&mut self, time: SystemTime) {
        self.index.last_modified = time;
        for resource in self.main.all_mut() {
            resource.last_modified = time;
        }
        for tag in self.tags.values_mut() {
            for resource in tag.resources.all_mut() {
                resource.last_modified = time;
            }
        }
        for entry in self.articles.values_mut() {
            entry.last_modified = time;
        }
        for page in &mut self.archive_modified {
            *page = time;
        }
    }

    /// The URLs of the feeds (subscription and tag feeds) whose bytes differ from those of
    /// `previous`: the topics to announce to WebSub hubs.
    pub fn changed_topics(&self, previous: &Snapshot) -> Vec<String> {
        let mut topics = Vec::new();
        let mut compare = |new: &FeedResources, old: Option<&FeedResources>, prefix: &str| {
            for (i, (resource, path)) in new.all().into_iter().enumerate() {
                if old.is_none_or(|o| o.all()[i].0.digest != resource.digest) {
                    topics.push(self.config.url(&format!("{prefix}{path}")));
                }
            }
        };
        compare(&self.main, Some(&previous.main), "");
        for (slug, tag) in &self.tags {
            compare(
                &tag.resources,
                previous.tags.get(slug).map(|t| &t.resources),
                &tag_path(&tag.name, ""),
            );
        }
        topics
    }

    /// Every file of this generation for the output folder.
    pub fn output_files(&self) -> Vec<(String, &[u8])> {
        output_files(
            &self.feeds,
            self.tags.iter().map(|(slug, t)| (slug.as_str(), &t.feeds)),
        )
    }

    /// The slugs of this generation's tags.
    pub fn tag_slugs(&self) -> Vec<String> {
        self.tags.keys().cloned().collect()
    }

    /// Renders archive page `number` of `format` (made on request, like article pages).
    pub fn archive_page(&self, format: Format, number: usize) -> Option<Resource> {
        let bytes = match self.feeds.archive_page(format, number, &self.config)? {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!("archive page {number}: {e}");
                return None;
            }
        };
        let content_type = match format {
            Format::Rss => RSS_TYPE,
            Format::Atom => ATOM_TYPE,
        };
        Some(Resource::new(
            content_type,
            bytes,
            self.archive_modified[number - 1],
            false,
        ))
    }

    /// Renders the page of article `id` (pages are made on request: they are small, and
    /// keeping every page rendered would hold every article's text twice).
    pub fn article_page(&self, id: &str) -> Option<Resource> {
        let entry = self.articles.get(id)?;
        let item = FeedItem::new(Arc::clone(&entry.article), &self.config);
        Some(Resource::new(
            HTML_TYPE,
            pages::article_html(&self.config, &item).into_bytes(),
            entry.last_modified,
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::config::Overrides;

    fn articles(n: u32) -> Vec<Arc<Article>> {
        (1..=n)
            .map(|i| {
                let text = format!("{i} May 2020\nStory {i}\n\n{}", "Body text. ".repeat(50));
                Arc::new(
                    Article::parse(Path::new(&format!("{i}.txt")), &text)
                        .unwrap()
                        .article,
                )
            })
            .collect()
    }

    #[test]
    fn unchanged_feeds_keep_their_bytes_and_dates_and_changed_ones_advance() {
        let config =
            Arc::new(Config::parse(Path::new("t.toml"), "", &Overrides::default()).unwrap());
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let all = articles(5);
        let first = Snapshot::build(Arc::clone(&config), &all, None, None, t0).unwrap();
        let same = Snapshot::build(
            Arc::clone(&config),
            &all,
            Some(&first),
            None,
            t0 + Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(same.generation, first.generation);
        assert_eq!(same.main.rss.last_modified, first.main.rss.last_modified);
        let (a, b) = (
            first.main.rss.gzip.as_ref().unwrap(),
            same.main.rss.gzip.as_ref().unwrap(),
        );
        assert_eq!(
            a.body.as_ptr(),
            b.body.as_ptr(),
            "compressed once, shared afterwards"
        );

        // Deleting an article changes the feed: new ETag, later Last-Modified, even though the
        // newest item (and so the feed's own date) is unchanged.
        let fewer = Snapshot::build(
            Arc::clone(&config),
            &all[1..],
            Some(&same),
            None,
            t0 + Duration::from_secs(120),
        )
        .unwrap();
        assert_eq!(fewer.generation, first.generation + 1);
        assert_ne!(fewer.main.rss.identity.etag, first.main.rss.identity.etag);
        assert_eq!(fewer.main.rss.last_modified, t0 + Duration::from_secs(120));
        // A change within the same second as the last still moves Last-Modified forward.
        let again = Snapshot::build(
            Arc::clone(&config),
            &all,
            Some(&fewer),
            None,
            t0 + Duration::from_millis(120_300),
        )
        .unwrap();
        assert_eq!(again.main.rss.last_modified, t0 + Duration::from_secs(121));
        assert!(again.article_page("1").is_some());
        assert!(again.article_page("99").is_none());
    }
}
