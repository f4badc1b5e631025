//! A snapshot: everything the server answers with, from one generation of the articles.
//!
//! A snapshot is immutable; the server swaps a whole new one in, so every response is
//! from one generation, and the RSS and Atom of a generation always agree.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use rayon::prelude::*;

pub mod feeds;

pub use feeds::Feeds;

use crate::article::Article;
use crate::config::Config;
use crate::corpus::{Corpus, Moved, Ranking};
use crate::feed::RenderError;
use crate::hosts;
use crate::item::{items_of, FeedItem};
use crate::loader::Changes;
use crate::pages;
use crate::render::{next_last_modified, truncate_to_second, Policy, Resource};
use crate::urls::{language_prefix, tag_prefix, Format, Route, HTML_TYPE, OPML_TYPE};

/// The routes of a site that changed between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteChanges {
    /// Routes whose bytes may differ, or that are new.
    pub changed: Vec<Route>,
    /// Routes that are gone.
    pub removed: Vec<Route>,
}

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
    /// Whether a document waits for its compressed variants ([`Resource::pending`]).
    pub fn pending(&self) -> bool {
        self.rss.pending() || self.atom.pending() || self.json.pending()
    }

    /// The three documents with their compressed variants, compressed at once.
    pub fn compressed(&self) -> FeedResources {
        let (rss, (atom, json)) = rayon::join(
            || self.rss.compressed(),
            || rayon::join(|| self.atom.compressed(), || self.json.compressed()),
        );
        FeedResources { rss, atom, json }
    }

    /// The document of `format`.
    pub fn get(&self, format: Format) -> &Resource {
        match format {
            Format::Rss => &self.rss,
            Format::Atom => &self.atom,
            Format::Json => &self.json,
        }
    }

    fn all(&self) -> [(&Resource, Format); 3] {
        Format::ALL.map(|format| (self.get(format), format))
    }

    fn all_mut(&mut self) -> [&mut Resource; 3] {
        [&mut self.rss, &mut self.atom, &mut self.json]
    }
}

/// The feeds of one tag or one language.
#[derive(Debug, Clone)]
pub struct GroupFeeds {
    /// The tag as first spelled, or the language's BCP 47 tag.
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
    pub tags: BTreeMap<String, Arc<GroupFeeds>>,
    /// Each language's feeds, by BCP 47 tag: `/lang/{code}/rss.xml`, ...
    pub languages: BTreeMap<String, Arc<GroupFeeds>>,
    /// `/feeds.opml`: every feed of the site.
    pub opml: Resource,
    /// `/`
    pub index: Resource,
    /// Every published article by id, in id order. A B-tree: shared between snapshots like a
    /// hash trie, but its nodes are full where the trie's were mostly empty slots (270 bytes
    /// an article at 100,000 against about 100).
    pub articles: imbl::OrdMap<String, ArticleEntry>,
    /// When each archive page (from 1, at index `n - 1`) last changed.
    pub archive_modified: Vec<SystemTime>,
    /// The published articles in feed order, overall and by tag.
    corpus: Corpus,
}

/// How a snapshot's articles differ from its predecessor's.
enum Delta<'a> {
    /// Unknown: everything is compared with the previous snapshot.
    Unknown,
    /// These changes, which moved these positions.
    Known(&'a Changes, Moved),
}

/// Whether two lists of articles are the same articles (the same parsed versions).
fn same_articles<'a>(
    a: impl IntoIterator<Item = &'a Arc<Article>>,
    b: impl IntoIterator<Item = &'a Arc<Article>>,
) -> bool {
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if Arc::ptr_eq(x, y) => {}
            _ => return false,
        }
    }
}

/// The caching policy of a resource kept `max_age` seconds, with the configured stale
/// directives and no `Link`.
fn policy(config: &Config, max_age: u64) -> Policy {
    Policy {
        max_age,
        stale_while_revalidate: config.stale_while_revalidate,
        stale_if_error: config.stale_if_error,
        link: None,
    }
}

/// What one assembly of a snapshot reuses and how it dates what changed.
struct Assembly<'a> {
    config: &'a Config,
    /// The previous snapshot, to compare with.
    previous: Option<&'a Snapshot>,
    /// The previous snapshot when its configuration gives the same output: everything of it
    /// whose inputs did not change can be kept.
    kept: Option<&'a Snapshot>,
    /// The date of resources that have no predecessor.
    start: SystemTime,
    now: SystemTime,
    /// Whether new resources are compressed now, or left pending
    /// ([`Snapshot::update_uncompressed`]).
    compress: bool,
}

impl Assembly<'_> {
    /// A resource of `body`. Bytes equal to those of `old` keep its compressed variants
    /// and validators (compression costs only what changed); changed bytes get a later
    /// `Last-Modified` than `old`'s.
    fn resource(
        &self,
        content_type: &'static str,
        body: Vec<u8>,
        old: Option<&Resource>,
        policy: Policy,
    ) -> Resource {
        if let Some(old) = old.filter(|o| o.digest == Resource::digest_of(&body)) {
            return old.clone().with_policy(policy);
        }
        let mut resource = Resource::new(content_type, body, self.start, self.compress, policy);
        if let Some(old) = old {
            resource.set_last_modified(next_last_modified(
                Some((&old.digest, old.last_modified())),
                &resource.digest,
                self.now,
            ));
        }
        resource
    }

    /// The policy of the feeds and pages: the configured max-age, and no `Link`.
    fn page_policy(&self) -> Policy {
        policy(self.config, self.config.cache_max_age)
    }

    /// The WebSub `Link` header of the feed at `path`, when hubs are configured.
    fn link_header(&self, path: &str) -> Option<String> {
        hosts::hub_link(self.config, path)
    }

    /// The three served documents of `feeds`, whose paths start with `prefix`; compressed at
    /// once.
    fn feed_resources(
        &self,
        feeds: &Feeds,
        prefix: &str,
        old: Option<&FeedResources>,
    ) -> FeedResources {
        let one = |format: Format| {
            let policy = Policy {
                link: self.link_header(&format!("{prefix}{}", format.path())),
                ..self.page_policy()
            };
            self.resource(
                format.content_type(),
                feeds.document(format).to_vec(),
                old.map(|o| o.get(format)),
                policy,
            )
        };
        let (rss, (atom, json)) = rayon::join(
            || one(Format::Rss),
            || rayon::join(|| one(Format::Atom), || one(Format::Json)),
        );
        FeedResources { rss, atom, json }
    }

    /// The subscription feeds. They show the newest `max_items` articles and the number of
    /// archive pages: when those are the same parsed articles, the bytes are the same and
    /// are kept.
    fn main_feeds(&self, corpus: &Corpus) -> Result<(Feeds, FeedResources), RenderError> {
        let all = corpus.all();
        let pages = all.archive_pages(self.config.archive_page_size);
        let unchanged = self.kept.filter(|p| {
            p.feeds.archive_pages() == pages
                && same_articles(
                    p.feeds.items.iter().map(|i| &i.article),
                    all.newest(self.config.max_items),
                )
        });
        if let Some(p) = unchanged {
            let feeds = Feeds {
                ranking: all.clone(),
                ..p.feeds.clone()
            };
            return Ok((feeds, p.main.clone()));
        }
        let feeds = Feeds::render_ranking(all.clone(), self.config)?;
        let main = self.feed_resources(&feeds, "", self.previous.map(|p| &p.main));
        Ok((feeds, main))
    }

    /// Each tag's feeds, by slug; a tag whose newest articles and spelling are unchanged
    /// keeps its feeds.
    fn tag_feeds(&self, corpus: &Corpus) -> Result<BTreeMap<String, Arc<GroupFeeds>>, RenderError> {
        let groups = corpus
            .tags()
            .map(|(slug, tag)| (slug, tag.name(), &tag.ranking));
        self.group_feeds(
            groups,
            |p| &p.tags,
            tag_prefix,
            |ranking, name| Feeds::render_tag_ranking(ranking, self.config, name),
        )
    }

    /// Each language's feeds, by tag; a language whose newest articles are unchanged keeps
    /// its feeds.
    fn language_feeds(
        &self,
        corpus: &Corpus,
    ) -> Result<BTreeMap<String, Arc<GroupFeeds>>, RenderError> {
        let groups = corpus
            .languages()
            .map(|(code, ranking)| (code, code.as_str(), ranking));
        self.group_feeds(
            groups,
            |p| &p.languages,
            language_prefix,
            |ranking, code| Feeds::render_language_ranking(ranking, self.config, code),
        )
    }

    /// The feeds of each group (a tag or a language) of `groups`, `(key, name, articles)`,
    /// kept from the previous snapshot's `old` groups when the name and the newest articles
    /// are the same; `prefix` gives the folder of a group's feeds, `render` renders them.
    fn group_feeds<'c>(
        &self,
        groups: impl Iterator<Item = (&'c String, &'c str, &'c Ranking)>,
        old: impl Fn(&Snapshot) -> &BTreeMap<String, Arc<GroupFeeds>>,
        prefix: impl Fn(&str) -> String,
        render: impl Fn(Ranking, &str) -> Result<Feeds, RenderError>,
    ) -> Result<BTreeMap<String, Arc<GroupFeeds>>, RenderError> {
        let mut all = BTreeMap::new();
        for (key, name, ranking) in groups {
            let before = self.previous.and_then(|p| old(p).get(key));
            let unchanged = before.filter(|before| {
                self.kept.is_some()
                    && before.name == name
                    && same_articles(
                        before.feeds.items.iter().map(|i| &i.article),
                        ranking.newest(self.config.max_items),
                    )
            });
            let group = match unchanged {
                Some(before) => Arc::clone(before),
                None => {
                    let feeds = render(ranking.clone(), name)?;
                    let resources =
                        self.feed_resources(&feeds, &prefix(name), before.map(|t| &t.resources));
                    Arc::new(GroupFeeds {
                        name: name.to_string(),
                        feeds,
                        resources,
                    })
                }
            };
            all.insert(key.clone(), group);
        }
        Ok(all)
    }

    /// `/feeds.opml`: every feed of the site; kept while its bytes are the same.
    fn opml(
        &self,
        tags: &BTreeMap<String, Arc<GroupFeeds>>,
        languages: &BTreeMap<String, Arc<GroupFeeds>>,
    ) -> Resource {
        let tag_names: Vec<&str> = tags.values().map(|t| t.name.as_str()).collect();
        let codes: Vec<&str> = languages.keys().map(String::as_str).collect();
        let body = pages::opml(self.config, &tag_names, &codes);
        self.resource(
            OPML_TYPE,
            body.into_bytes(),
            self.previous.map(|p| &p.opml),
            self.page_policy(),
        )
    }

    /// The index page: the newest articles (at least 100) and the tags. Kept when those are
    /// the same.
    fn index(
        &self,
        corpus: &Corpus,
        feeds: &Feeds,
        tags: &BTreeMap<String, Arc<GroupFeeds>>,
        languages: &BTreeMap<String, Arc<GroupFeeds>>,
    ) -> Resource {
        let all = corpus.all();
        let listed = self.config.max_items.max(100);
        let tag_names: Vec<String> = tags.values().map(|t| t.name.clone()).collect();
        let codes: Vec<String> = languages.keys().cloned().collect();
        let history = feeds.archive_pages();
        let unchanged = self.kept.filter(|p| {
            p.corpus.all().len() == all.len()
                && p.feeds.archive_pages() == history
                && p.tags.values().map(|t| &t.name).eq(tag_names.iter())
                && p.languages.keys().eq(codes.iter())
                && same_articles(p.corpus.all().newest(listed), all.newest(listed))
        });
        if let Some(p) = unchanged {
            return p.index.clone();
        }
        // The feed's items are the first ones listed: built once.
        let items: Vec<FeedItem> = feeds
            .items
            .iter()
            .cloned()
            .chain(items_of(
                all.newest(listed).skip(feeds.items.len()),
                self.config,
            ))
            .collect();
        let html = pages::index_html(
            self.config,
            &items,
            all.len(),
            &pages::Groups {
                tags: &tag_names,
                languages: &codes,
            },
            history,
        );
        self.resource(
            HTML_TYPE,
            html.into_bytes(),
            self.previous.map(|p| &p.index),
            self.page_policy(),
        )
    }

    /// When each archive page last changed: kept for the pages whose bytes are the same,
    /// now (and later than before) for the others.
    fn archive_dates(&self, feeds: &Feeds, delta: &Delta) -> Vec<SystemTime> {
        let first_moved = match delta {
            Delta::Known(_, moved) => moved.first_position,
            Delta::Unknown => Some(0),
        };
        let changed = feeds.changed_archive_pages(self.kept.map(|p| &p.feeds), first_moved);
        let modified_now = truncate_to_second(self.now);
        (1..=feeds.archive_pages())
            .map(|n| match self.previous {
                None => self.start,
                Some(p) if changed.binary_search(&n).is_err() => p.archive_modified[n - 1],
                Some(p) => p
                    .archive_modified
                    .get(n - 1)
                    .map_or(modified_now, |before| {
                        modified_now.max(*before + std::time::Duration::from_secs(1))
                    }),
            })
            .collect()
    }

    /// Every published article with the time its page last changed: from the changes when
    /// they are known, else by comparing each article with the previous snapshot's.
    fn article_entries(
        &self,
        corpus: &Corpus,
        delta: &Delta,
    ) -> imbl::OrdMap<String, ArticleEntry> {
        let modified_now = truncate_to_second(self.now);
        let entry = |article: &Arc<Article>, last_modified| ArticleEntry {
            article: Arc::clone(article),
            last_modified,
        };
        if let (Delta::Known(changes, _), Some(p)) = (delta, self.kept) {
            let mut articles = p.articles.clone();
            for gone in &changes.withdrawn {
                articles.remove(&gone.id);
            }
            for new in &changes.published {
                articles.insert(new.id.clone(), entry(new, modified_now));
            }
            return articles;
        }
        let fresh = if self.previous.is_some() {
            modified_now
        } else {
            self.start
        };
        corpus
            .all()
            .iter()
            .map(|a| {
                let kept = self
                    .kept
                    .and_then(|p| p.articles.get(&a.id))
                    .filter(|old| Arc::ptr_eq(&old.article, a) || old.article == *a)
                    .map(|old| old.last_modified);
                (a.id.clone(), entry(a, kept.unwrap_or(fresh)))
            })
            .collect()
    }

    /// The generation of the new snapshot: one more than the previous one's when any feed
    /// or the index changed its bytes, or the configuration its output.
    fn generation(&self, new: &Snapshot) -> u64 {
        let digests = |s: &Snapshot| {
            let mut all: Vec<[u8; 32]> = s.main.all().iter().map(|(r, _)| r.digest).collect();
            for group in s.tags.values().chain(s.languages.values()) {
                all.extend(group.resources.all().iter().map(|(r, _)| r.digest));
            }
            all.push(s.index.digest);
            all.push(s.opml.digest);
            all
        };
        match self.previous {
            None => 1,
            Some(p) if self.kept.is_none() => p.generation + 1,
            Some(p) if digests(p) != digests(new) => p.generation + 1,
            Some(p) => p.generation,
        }
    }
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
        let corpus = Corpus::new(articles, config.timezone, &config.languages);
        Snapshot::assemble(
            config,
            corpus,
            Delta::Unknown,
            previous,
            first_seen,
            now,
            true,
        )
    }

    /// The next snapshot: this one's articles with `changes` applied, under `config`. Its
    /// cost grows with the changes (and what they make visible: the newest `max_items`),
    /// not with the number of articles; a configuration that changes the output renders
    /// everything again.
    pub fn update(
        &self,
        config: Arc<Config>,
        changes: &Changes,
        now: SystemTime,
    ) -> Result<Snapshot, RenderError> {
        self.next(config, changes, now, true)
    }

    /// What [`Snapshot::update`] gives, without compressing the documents that changed: they
    /// are served as identity until [`Snapshot::compressed`] adds their variants. Compressing
    /// six feeds of 260 KB is most of the time a change takes to reach readers, and a reader
    /// may take a feed uncompressed for those milliseconds.
    pub fn update_uncompressed(
        &self,
        config: Arc<Config>,
        changes: &Changes,
        now: SystemTime,
    ) -> Result<Snapshot, RenderError> {
        self.next(config, changes, now, false)
    }

    /// [`Snapshot::update`], its new documents compressed when `compress`.
    fn next(
        &self,
        config: Arc<Config>,
        changes: &Changes,
        now: SystemTime,
        compress: bool,
    ) -> Result<Snapshot, RenderError> {
        let mut corpus = self.corpus.clone();
        let moved = corpus.apply(changes);
        if *corpus.language_rule() != config.languages {
            // Another rule can give any article another language.
            let all: Vec<Arc<Article>> = corpus.all().iter().cloned().collect();
            corpus = Corpus::new(&all, config.timezone, &config.languages);
        }
        let delta = if config.same_output(&self.config) {
            Delta::Known(changes, moved)
        } else {
            Delta::Unknown
        };
        Snapshot::assemble(config, corpus, delta, Some(self), None, now, compress)
    }

    /// This snapshot with every document that is worth compressing compressed (the pending
    /// ones of [`Snapshot::update_uncompressed`], at once on every core); `None` when none
    /// is pending. Everything else is shared or copied unchanged: the same generation,
    /// bodies and validators.
    pub fn compressed(&self) -> Option<Snapshot> {
        let groups =
            |m: &BTreeMap<String, Arc<GroupFeeds>>| m.values().any(|g| g.resources.pending());
        if !(self.main.pending()
            || self.opml.pending()
            || self.index.pending()
            || groups(&self.tags)
            || groups(&self.languages))
        {
            return None;
        }
        let group_map =
            |m: &BTreeMap<String, Arc<GroupFeeds>>| -> BTreeMap<String, Arc<GroupFeeds>> {
                m.par_iter()
                    .map(|(key, group)| {
                        let group = if group.resources.pending() {
                            Arc::new(GroupFeeds {
                                name: group.name.clone(),
                                feeds: group.feeds.clone(),
                                resources: group.resources.compressed(),
                            })
                        } else {
                            Arc::clone(group)
                        };
                        (key.clone(), group)
                    })
                    .collect()
            };
        let ((main, (opml, index)), (tags, languages)) = rayon::join(
            || {
                rayon::join(
                    || self.main.compressed(),
                    || rayon::join(|| self.opml.compressed(), || self.index.compressed()),
                )
            },
            || rayon::join(|| group_map(&self.tags), || group_map(&self.languages)),
        );
        Some(Snapshot {
            generation: self.generation,
            config: Arc::clone(&self.config),
            feeds: self.feeds.clone(),
            main,
            tags,
            languages,
            opml,
            index,
            articles: self.articles.clone(),
            archive_modified: self.archive_modified.clone(),
            corpus: self.corpus.clone(),
        })
    }

    /// The snapshot of `corpus` under `config`, step by step: feeds, tags, index, archive
    /// dates, article pages, generation.
    fn assemble(
        config: Arc<Config>,
        corpus: Corpus,
        delta: Delta,
        previous: Option<&Snapshot>,
        first_seen: Option<SystemTime>,
        now: SystemTime,
        compress: bool,
    ) -> Result<Snapshot, RenderError> {
        let step = Assembly {
            config: &config,
            previous,
            kept: previous.filter(|p| p.config.same_output(&config)),
            start: first_seen.unwrap_or(now).min(now),
            now,
            compress,
        };
        let (feeds, main) = step.main_feeds(&corpus)?;
        let tags = step.tag_feeds(&corpus)?;
        let languages = step.language_feeds(&corpus)?;
        let index = step.index(&corpus, &feeds, &tags, &languages);
        let opml = step.opml(&tags, &languages);
        let archive_modified = step.archive_dates(&feeds, &delta);
        let articles = step.article_entries(&corpus, &delta);
        let mut snapshot = Snapshot {
            generation: 0,
            config: Arc::clone(&config),
            feeds,
            main,
            tags,
            languages,
            opml,
            index,
            articles,
            archive_modified,
            corpus,
        };
        snapshot.generation = step.generation(&snapshot);
        Ok(snapshot)
    }

    /// Dates every resource of a first snapshot at `time` (the time the same feeds were
    /// written to disk by an earlier run).
    pub fn date_all(&mut self, time: SystemTime) {
        self.index.set_last_modified(time);
        self.opml.set_last_modified(time);
        for resource in self.main.all_mut() {
            resource.set_last_modified(time);
        }
        for tag in self.tags.values_mut().chain(self.languages.values_mut()) {
            for resource in Arc::make_mut(tag).resources.all_mut() {
                resource.set_last_modified(time);
            }
        }
        self.articles = std::mem::take(&mut self.articles)
            .into_iter()
            .map(|(id, entry)| {
                let entry = ArticleEntry {
                    last_modified: time,
                    ..entry
                };
                (id, entry)
            })
            .collect();
        for page in &mut self.archive_modified {
            *page = time;
        }
    }

    /// Every route this snapshot answers with 200 (the site): the subscription feeds, the
    /// index, the OPML list, the tags' and the languages' feeds, the archive and history
    /// pages and the article pages, in that order.
    pub fn routes(&self) -> Vec<Route> {
        let mut routes: Vec<Route> = Format::ALL.into_iter().map(Route::Feed).collect();
        routes.push(Route::Index);
        routes.push(Route::Opml);
        for slug in self.tags.keys() {
            routes.extend(Format::ALL.map(|f| Route::Tag(slug.clone(), f)));
        }
        for code in self.languages.keys() {
            routes.extend(Format::ALL.map(|f| Route::Language(code.clone(), f)));
        }
        for n in 1..=self.archive_modified.len() {
            routes.extend(Format::ARCHIVED.map(|f| Route::Archive(f, n)));
            routes.push(Route::History(n));
        }
        // In id order, as the map holds them.
        routes.extend(self.articles.keys().map(|id| Route::Article(id.clone())));
        routes
    }

    /// The resource `route` names: one this snapshot holds (feeds and the index), or one made
    /// now (archive and article pages); `None` when there is no such resource.
    pub fn resource(&self, route: &Route) -> Option<Cow<'_, Resource>> {
        match route {
            Route::Index => Some(Cow::Borrowed(&self.index)),
            Route::Feed(format) => Some(Cow::Borrowed(self.main.get(*format))),
            Route::Tag(slug, format) => self
                .tags
                .get(slug)
                .map(|t| Cow::Borrowed(t.resources.get(*format))),
            Route::Language(code, format) => self
                .languages
                .get(code)
                .map(|l| Cow::Borrowed(l.resources.get(*format))),
            Route::Opml => Some(Cow::Borrowed(&self.opml)),
            Route::Archive(format, n) => self.archive_page(*format, *n).map(Cow::Owned),
            Route::History(n) => self.history_page(*n).map(Cow::Owned),
            Route::Article(id) => self.article_page(id).map(Cow::Owned),
            Route::Health | Route::Moved(_) | Route::OldArticle(_) | Route::NotFound => None,
            Route::Stats | Route::StatsJson => None,
        }
    }

    /// How this snapshot's site differs from `previous`'s: the routes whose bytes may have
    /// changed or are new, and the routes `previous` answered that this one does not.
    pub fn changes_since(&self, previous: &Snapshot) -> SiteChanges {
        let mut changed = self.changed_feeds(previous);
        if self.index.digest != previous.index.digest {
            changed.push(Route::Index);
        }
        if self.opml.digest != previous.opml.digest {
            changed.push(Route::Opml);
        }
        for (n, modified) in self.archive_modified.iter().enumerate() {
            if previous.archive_modified.get(n) != Some(modified) {
                changed.extend(Format::ARCHIVED.map(|f| Route::Archive(f, n + 1)));
                changed.push(Route::History(n + 1));
            }
        }
        for (id, entry) in &self.articles {
            let old = previous.articles.get(id);
            if old.is_none_or(|o| o.last_modified != entry.last_modified) {
                changed.push(Route::Article(id.clone()));
            }
        }
        let mut removed = Vec::new();
        for slug in previous.tags.keys().filter(|s| !self.tags.contains_key(*s)) {
            removed.extend(Format::ALL.map(|f| Route::Tag(slug.clone(), f)));
        }
        for code in previous.languages.keys() {
            if !self.languages.contains_key(code) {
                removed.extend(Format::ALL.map(|f| Route::Language(code.clone(), f)));
            }
        }
        for n in self.archive_modified.len() + 1..=previous.archive_modified.len() {
            removed.extend(Format::ARCHIVED.map(|f| Route::Archive(f, n)));
            removed.push(Route::History(n));
        }
        for id in previous.articles.keys() {
            if !self.articles.contains_key(id) {
                removed.push(Route::Article(id.clone()));
            }
        }
        SiteChanges { changed, removed }
    }

    /// The URLs of the feeds (subscription, tag and language feeds) whose bytes differ from those of
    /// `previous`: the topics to announce to WebSub hubs.
    pub fn changed_topics(&self, previous: &Snapshot) -> Vec<String> {
        self.changed_feeds(previous)
            .iter()
            .filter_map(Route::path)
            .map(|path| self.config.url(&path))
            .collect()
    }

    /// The subscription, tag and language feeds whose bytes differ from those of `previous`
    /// (or that it did not have).
    fn changed_feeds(&self, previous: &Snapshot) -> Vec<Route> {
        let mut changed = Vec::new();
        let mut compare =
            |new: &FeedResources, old: Option<&FeedResources>, route: &dyn Fn(Format) -> Route| {
                for (resource, format) in new.all() {
                    if old.is_none_or(|o| o.get(format).digest != resource.digest) {
                        changed.push(route(format));
                    }
                }
            };
        compare(&self.main, Some(&previous.main), &Route::Feed);
        for (slug, tag) in &self.tags {
            let old = previous.tags.get(slug).map(|t| &t.resources);
            compare(&tag.resources, old, &|format| {
                Route::Tag(slug.clone(), format)
            });
        }
        for (code, language) in &self.languages {
            let old = previous.languages.get(code).map(|l| &l.resources);
            compare(&language.resources, old, &|format| {
                Route::Language(code.clone(), format)
            });
        }
        changed
    }

    /// The bytes of the resource `route` names, without its variants, validators and
    /// headers: what `publish` writes. The same bytes as [`Snapshot::resource`]'s.
    pub fn body(&self, route: &Route) -> Option<Bytes> {
        match route {
            Route::Archive(format, n) => self.archive_bytes(*format, *n).map(Bytes::from),
            Route::History(n) => self.history_bytes(*n).map(Bytes::from),
            Route::Article(id) => self.article_bytes(id).map(Bytes::from),
            _ => self.resource(route).map(|r| r.identity.body.clone()),
        }
    }

    fn archive_bytes(&self, format: Format, number: usize) -> Option<Vec<u8>> {
        match self.feeds.archive_page(format, number, &self.config)? {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::error!("archive page {number}: {e}");
                None
            }
        }
    }

    fn history_bytes(&self, number: usize) -> Option<Vec<u8>> {
        let items = self.feeds.page_items(number, &self.config)?;
        let pages = self.feeds.archive_pages();
        Some(pages::history_html(&self.config, &items, number, pages).into_bytes())
    }

    fn article_bytes(&self, id: &str) -> Option<Vec<u8>> {
        let entry = self.articles.get(id)?;
        let item = FeedItem::of(&entry.article, &self.config);
        Some(pages::article_html(&self.config, &item).into_bytes())
    }

    /// Renders archive page `number` of `format` (made on request, like article pages, and
    /// compressed like every resource, so that a static server's precompressed files are the
    /// bytes `serve` sends).
    pub fn archive_page(&self, format: Format, number: usize) -> Option<Resource> {
        let bytes = self.archive_bytes(format, number)?;
        let policy = policy(&self.config, self.config.archive_max_age);
        Some(Resource::new(
            format.content_type(),
            bytes,
            self.archive_modified[number - 1],
            true,
            policy,
        ))
    }

    /// Renders HTML history page `number`: the articles of archive page `number`, for people.
    pub fn history_page(&self, number: usize) -> Option<Resource> {
        Some(Resource::new(
            HTML_TYPE,
            self.history_bytes(number)?,
            self.archive_modified[number - 1],
            true,
            policy(&self.config, self.config.archive_max_age),
        ))
    }

    /// Renders the page of article `id` (pages are made on request: they are small, and
    /// keeping every page rendered would hold every article's text twice).
    pub fn article_page(&self, id: &str) -> Option<Resource> {
        let entry = self.articles.get(id)?;
        Some(Resource::new(
            HTML_TYPE,
            self.article_bytes(id)?,
            entry.last_modified,
            true,
            policy(&self.config, self.config.cache_max_age),
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
        assert_eq!(
            same.main.rss.last_modified(),
            first.main.rss.last_modified()
        );
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
        assert_eq!(
            fewer.main.rss.last_modified(),
            t0 + Duration::from_secs(120)
        );
        // A change within the same second as the last still moves Last-Modified forward.
        let again = Snapshot::build(
            Arc::clone(&config),
            &all,
            Some(&fewer),
            None,
            t0 + Duration::from_millis(120_300),
        )
        .unwrap();
        assert_eq!(
            again.main.rss.last_modified(),
            t0 + Duration::from_secs(121)
        );
        assert!(again.article_page("1").is_some());
        assert!(again.article_page("99").is_none());
    }

    #[test]
    fn an_update_served_uncompressed_then_compressed_is_the_update() {
        let config = Arc::new(
            Config::parse(Path::new("t.toml"), "max_items = 5", &Overrides::default()).unwrap(),
        );
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let all = articles(28);
        let first = Snapshot::build(Arc::clone(&config), &all, None, None, t0).unwrap();
        assert!(
            first.compressed().is_none(),
            "a build compresses everything"
        );
        let text = format!(
            "28 May 2020\nStory 28, corrected\n\n{}",
            "Body text. ".repeat(60)
        );
        let edited = Arc::new(Article::parse(Path::new("28.txt"), &text).unwrap().article);
        let changes = Changes {
            withdrawn: vec![Arc::clone(&all[27])],
            published: vec![edited],
        };
        let t1 = t0 + Duration::from_secs(60);
        let now = first.update(Arc::clone(&config), &changes, t1).unwrap();
        let plain = first
            .update_uncompressed(Arc::clone(&config), &changes, t1)
            .unwrap();
        assert!(plain.main.rss.pending() && plain.index.pending());
        assert!(
            !plain.opml.pending(),
            "what did not change keeps its variants"
        );
        let later = plain.compressed().expect("documents were pending");
        assert!(later.compressed().is_none());
        assert_eq!(later.generation, now.generation);
        let routes = now.routes();
        assert_eq!(later.routes(), routes);
        for route in &routes {
            let (a, b) = (now.resource(route).unwrap(), later.resource(route).unwrap());
            let p = plain.resource(route).unwrap();
            assert_eq!(p.identity.etag, a.identity.etag, "{route:?}");
            for (x, y) in [
                (Some(&a.identity), Some(&b.identity)),
                (a.gzip.as_ref(), b.gzip.as_ref()),
                (a.brotli.as_ref(), b.brotli.as_ref()),
            ] {
                assert_eq!(
                    x.map(|v| (&v.body, &v.etag)),
                    y.map(|v| (&v.body, &v.etag)),
                    "{route:?}"
                );
            }
            assert_eq!(a.last_modified(), b.last_modified(), "{route:?}");
        }
    }

    #[test]
    fn an_edit_outside_the_newest_items_renders_no_feed_again() {
        let config = Arc::new(
            Config::parse(
                Path::new("t.toml"),
                "max_items = 5\narchive_page_size = 5",
                &Overrides::default(),
            )
            .unwrap(),
        );
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let all = articles(28);
        let first = Snapshot::build(Arc::clone(&config), &all, None, None, t0).unwrap();
        // Article 2 (2 May) is on the oldest archive page; its new version keeps its date.
        let text = format!(
            "2 May 2020\nStory 2, corrected\n\n{}",
            "Body text. ".repeat(50)
        );
        let edited = Arc::new(Article::parse(Path::new("2.txt"), &text).unwrap().article);
        let changes = Changes {
            withdrawn: vec![Arc::clone(&all[1])],
            published: vec![Arc::clone(&edited)],
        };
        let t1 = t0 + Duration::from_secs(60);
        let next = first.update(Arc::clone(&config), &changes, t1).unwrap();
        let same_bytes =
            |a: &Resource, b: &Resource| a.identity.body.as_ptr() == b.identity.body.as_ptr();
        assert!(
            same_bytes(&first.main.rss, &next.main.rss),
            "the feed is not rendered again"
        );
        assert!(same_bytes(&first.main.atom, &next.main.atom));
        assert!(same_bytes(&first.main.json, &next.main.json));
        // The home page lists the newest 100 articles, this one among them.
        assert!(!same_bytes(&first.index, &next.index));
        assert_eq!(next.generation, first.generation + 1);
        assert_eq!(
            next.archive_modified[0], t1,
            "the page holding the edit changed"
        );
        assert_eq!(next.archive_modified[1..], first.archive_modified[1..]);
        assert!(String::from_utf8(
            next.archive_page(Format::Atom, 1)
                .unwrap()
                .identity
                .body
                .to_vec()
        )
        .unwrap()
        .contains("Story 2, corrected"));
        assert_eq!(next.articles.get("2").unwrap().last_modified, t1);
        assert_eq!(next.articles.get("3").unwrap().last_modified, t0);
    }

    #[test]
    fn a_configuration_that_changes_no_output_renders_nothing_again() {
        let parse = |text: &str| {
            Arc::new(Config::parse(Path::new("t.toml"), text, &Overrides::default()).unwrap())
        };
        let config = parse("max_items = 5\narchive_page_size = 5");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let first = Snapshot::build(Arc::clone(&config), &articles(12), None, None, t0).unwrap();
        let t1 = t0 + Duration::from_secs(60);
        let calmer = parse("max_items = 5\narchive_page_size = 5\nrescan_interval_secs = 300");
        let next = first.update(calmer, &Changes::default(), t1).unwrap();
        assert_eq!(next.generation, first.generation);
        assert_eq!(
            next.main.rss.last_modified(),
            first.main.rss.last_modified()
        );
        assert_eq!(next.index.last_modified(), first.index.last_modified());
        assert_eq!(next.archive_modified, first.archive_modified);
        for (id, entry) in &next.articles {
            assert_eq!(
                entry.last_modified, first.articles[id].last_modified,
                "{id}"
            );
        }
        assert!(next.changes_since(&first).changed.is_empty());
        // A title does change the output: everything is rendered again.
        let retitled = parse("max_items = 5\narchive_page_size = 5\ntitle = \"Other\"");
        let again = next.update(retitled, &Changes::default(), t1).unwrap();
        assert_eq!(again.generation, first.generation + 1);
        assert_eq!(again.archive_modified[0], t1);
    }

    /// The Markdown of a tagged article: `id` is the identity.
    fn tagged_text(id: u8, day: u8, hour: u8, tags: &[u8], words: u8) -> String {
        let tags: Vec<String> = tags
            .iter()
            .map(|t| {
                format!(
                    "\"{}\"",
                    ["Roads", "roads", "City Hall", "Weather"][*t as usize % 4]
                )
            })
            .collect();
        format!(
            "+++\ntitle = \"Story {id} v{words}\"\ndate = 2024-03-{:02}T{:02}:00:00Z\nslug = \"s{id}\"\ntags = [{}]\n+++\n{}\n",
            1 + day % 28,
            hour % 24,
            tags.join(", "),
            "Word ".repeat(1 + words as usize)
        )
    }

    /// The article of `text` written to the new file `name` in `dir`: as parsed, holding its
    /// text (what `build` keeps), and as a server's loader keeps it, with its text left in
    /// the file.
    fn on_disk(dir: &Path, name: &str, text: &str) -> (Arc<Article>, Arc<Article>) {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let held = Article::from_bytes(&path, text.as_bytes()).unwrap().article;
        let digest = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
        let in_file = held.clone().without_text(digest);
        assert!(in_file.paragraphs.is_empty() && in_file.html().is_none());
        (Arc::new(held), Arc::new(in_file))
    }

    /// Every document a snapshot serves, by path, with its bytes.
    fn documents(s: &Snapshot) -> BTreeMap<String, Vec<u8>> {
        let mut docs = BTreeMap::new();
        for (resource, format) in s.main.all() {
            docs.insert(format.path().to_string(), resource.identity.body.to_vec());
        }
        docs.insert("/".into(), s.index.identity.body.to_vec());
        for (slug, tag) in &s.tags {
            for (resource, format) in tag.resources.all() {
                docs.insert(
                    format!("/tags/{slug}{}", format.path()),
                    resource.identity.body.to_vec(),
                );
            }
        }
        for n in 1..=s.archive_modified.len() {
            for format in [Format::Rss, Format::Atom] {
                let page = s.archive_page(format, n).unwrap();
                docs.insert(
                    format!("/archive/{}/{n}", format.name()),
                    page.identity.body.to_vec(),
                );
            }
        }
        for id in s.articles.keys() {
            docs.insert(
                format!("/articles/{id}"),
                s.article_page(id).unwrap().identity.body.to_vec(),
            );
        }
        docs
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() })]

        /// Applying changes to a snapshot of articles whose text stays in their files (as
        /// `serve` keeps them, reading pages from disk) serves exactly what rendering every
        /// article from scratch with its text in memory (as `build` does) serves, and
        /// archive pages get a later `Last-Modified` exactly when their bytes change.
        #[test]
        fn updates_serve_what_a_full_build_serves(
            initial in proptest::collection::vec((0u8..40, 0u8..5, 0u8..3, proptest::collection::vec(0u8..4, 0..3)), 0..30),
            edits in proptest::collection::vec((0u8..40, proptest::option::of((0u8..40, 0u8..5, 0u8..3, proptest::collection::vec(0u8..4, 0..3)))), 1..12),
        ) {
            let config = Arc::new(
                Config::parse(
                    Path::new("t.toml"),
                    "max_items = 4\narchive_page_size = 3\nbase_url = \"http://feeds.test\"",
                    &Overrides::default(),
                )
                .unwrap(),
            );
            let dir = tempfile::tempdir().unwrap();
            // Slot -> the article in it, held and in its file; identities are unique across
            // slots. Each version has a file of its own, so that an older snapshot can still
            // read its text.
            let mut held: BTreeMap<u8, Arc<Article>> = BTreeMap::new();
            let mut in_file: BTreeMap<u8, Arc<Article>> = BTreeMap::new();
            let mut version = 0;
            let mut write = |slot: u8, (day, hour, words, tags): &(u8, u8, u8, Vec<u8>)| {
                version += 1;
                let text = tagged_text(slot, *day, *hour, tags, *words);
                on_disk(dir.path(), &format!("{slot:02}.{version}.md"), &text)
            };
            for (i, fields) in initial.iter().enumerate() {
                let (h, f) = write(i as u8, fields);
                held.insert(i as u8, h);
                in_file.insert(i as u8, f);
            }
            let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let all = |slots: &BTreeMap<u8, Arc<Article>>| slots.values().cloned().collect::<Vec<_>>();
            let mut current = Snapshot::build(Arc::clone(&config), &all(&in_file), None, None, t0).unwrap();
            for (step, (slot, new)) in edits.iter().enumerate() {
                let mut changes = Changes::default();
                changes.withdrawn.extend(in_file.remove(slot));
                held.remove(slot);
                if let Some(fields) = new {
                    let (h, f) = write(*slot, fields);
                    changes.published.push(Arc::clone(&f));
                    held.insert(*slot, h);
                    in_file.insert(*slot, f);
                }
                let now = t0 + Duration::from_secs(10 * (step as u64 + 1));
                let next = current.update(Arc::clone(&config), &changes, now).unwrap();
                let fresh = Snapshot::build(Arc::clone(&config), &all(&held), None, None, now).unwrap();
                let (before, after) = (documents(&current), documents(&next));
                proptest::prop_assert_eq!(&after, &documents(&fresh));
                for n in 1..=next.archive_modified.len() {
                    let path = format!("/archive/atom/{n}");
                    let advanced = current.archive_modified.get(n - 1) != Some(&next.archive_modified[n - 1]);
                    proptest::prop_assert_eq!(advanced, before.get(&path) != after.get(&path), "page {}", n);
                }
                proptest::prop_assert_eq!(next.generation != current.generation, {
                    let feeds = |d: &BTreeMap<String, Vec<u8>>| d.iter().filter(|(p, _)| !p.starts_with("/a")).map(|(p, b)| (p.clone(), b.clone())).collect::<Vec<_>>();
                    feeds(&before) != feeds(&after)
                });
                current = next;
            }
        }
    }
}
