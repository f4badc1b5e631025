//! The corpus: the published articles in the one order every document uses (newest first,
//! ties broken by identity), overall and for each tag, kept sorted as articles come and go.
//!
//! It is built of persistent collections: a snapshot keeps its own copy for the cost of a
//! pointer, and a change costs a logarithm of the corpus per changed article. So a
//! regeneration costs what changed, not what exists.

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use imbl::{OrdMap, Vector};

use crate::article::Article;
use crate::lang::Languages;
use crate::loader::Changes;
use crate::urls::tag_slug;

/// An article with the instant it sorts by.
#[derive(Debug, Clone)]
struct Ranked {
    at: DateTime<FixedOffset>,
    article: Arc<Article>,
}

/// The feed order: newer first, and among articles of the same instant, the smaller
/// identity first.
fn feed_order(
    a_at: &DateTime<FixedOffset>,
    a_id: &str,
    b_at: &DateTime<FixedOffset>,
    b_id: &str,
) -> Ordering {
    b_at.cmp(a_at).then_with(|| a_id.cmp(b_id))
}

/// Articles in feed order.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    entries: Vector<Ranked>,
}

impl Ranking {
    /// `articles` (one per identity) in feed order, their dates read in `zone`.
    pub fn new<'a>(articles: impl IntoIterator<Item = &'a Arc<Article>>, zone: Tz) -> Ranking {
        let mut entries: Vec<Ranked> = articles
            .into_iter()
            .map(|a| Ranked {
                at: a.instant(zone),
                article: Arc::clone(a),
            })
            .collect();
        entries.sort_unstable_by(|a, b| feed_order(&a.at, &a.article.id, &b.at, &b.article.id));
        Ranking {
            entries: entries.into_iter().collect(),
        }
    }

    /// How many articles it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The articles, newest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Article>> + '_ {
        self.entries.iter().map(|r| &r.article)
    }

    /// The newest `n` articles, newest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &Arc<Article>> + '_ {
        self.iter().take(n)
    }

    fn position(&self, at: &DateTime<FixedOffset>, id: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|e| feed_order(&e.at, &e.article.id, at, id))
    }

    /// Adds `article` (replacing an article of the same identity and date), and returns its
    /// index, newest first.
    pub fn insert(&mut self, article: Arc<Article>, zone: Tz) -> usize {
        let ranked = Ranked {
            at: article.instant(zone),
            article,
        };
        match self.position(&ranked.at, &ranked.article.id) {
            Ok(i) => {
                self.entries.set(i, ranked);
                i
            }
            Err(i) => {
                self.entries.insert(i, ranked);
                i
            }
        }
    }

    /// Removes the article of `article`'s identity and date, and returns the index it had,
    /// newest first.
    pub fn remove(&mut self, article: &Article, zone: Tz) -> Option<usize> {
        let i = self.position(&article.instant(zone), &article.id).ok()?;
        self.entries.remove(i);
        Some(i)
    }

    /// How many complete archive pages of `size` articles it makes (RFC 5005).
    pub fn archive_pages(&self, size: usize) -> usize {
        self.len().checked_div(size).unwrap_or(0)
    }

    /// The articles of archive page `number` (from 1, the oldest) of pages of `size`,
    /// oldest first; `None` when there is no such complete page.
    pub fn archive_page(&self, size: usize, number: usize) -> Option<Vec<Arc<Article>>> {
        if number == 0 || number > self.archive_pages(size) {
            return None;
        }
        // Page n holds the articles at oldest-first positions (n-1)*size .. n*size.
        let end = self.len() - (number - 1) * size;
        let start = end - size;
        let mut page: Vec<Arc<Article>> = self
            .entries
            .skip(start)
            .take(size)
            .iter()
            .map(|r| Arc::clone(&r.article))
            .collect();
        page.reverse();
        Some(page)
    }
}

/// One tag: the articles that carry it, and how it is spelled.
#[derive(Debug, Clone, Default)]
pub struct Tag {
    /// Each tagged article's spelling of the tag, by the article's path.
    spellings: OrdMap<PathBuf, String>,
    /// The tagged articles.
    pub ranking: Ranking,
}

impl Tag {
    /// The tag as spelled by the tagged article that comes first by path.
    pub fn name(&self) -> &str {
        self.spellings.values().next().map_or("", String::as_str)
    }
}

/// What applying changes to a corpus moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moved {
    /// The smallest oldest-first position (from 0) whose article changed: every archive
    /// page from the one holding it on changed. `None` when no article changed.
    pub first_position: Option<usize>,
}

/// The published articles, overall, by tag and by language, in feed order.
#[derive(Debug, Clone)]
pub struct Corpus {
    zone: Tz,
    all: Ranking,
    tags: OrdMap<String, Tag>,
    /// The rule that gives each article its language.
    rule: Arc<Languages>,
    /// The articles of each language, by tag (BCP 47).
    languages: OrdMap<String, Ranking>,
}

/// The slugs of `article`'s tags, each with the article's first spelling of it.
fn tag_spellings(article: &Article) -> Vec<(String, &str)> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for tag in article.tags() {
        let slug = tag_slug(tag);
        if !slug.is_empty() && seen.iter().all(|(s, _)| *s != slug) {
            seen.push((slug, tag));
        }
    }
    seen
}

impl Corpus {
    /// The corpus of `articles` (one per identity), dates read in `zone`, each article's
    /// language given by `rule`.
    pub fn new(articles: &[Arc<Article>], zone: Tz, rule: &Languages) -> Corpus {
        let all = Ranking::new(articles, zone);
        let mut by_language: std::collections::BTreeMap<&str, Vec<&Arc<Article>>> =
            std::collections::BTreeMap::new();
        for article in articles {
            by_language
                .entry(article.language_in(rule))
                .or_default()
                .push(article);
        }
        let languages = by_language
            .into_iter()
            .map(|(code, articles)| (code.to_string(), Ranking::new(articles, zone)))
            .collect();
        type Tagged<'a> = (Vec<&'a Arc<Article>>, OrdMap<PathBuf, String>);
        let mut tagged: std::collections::BTreeMap<String, Tagged> =
            std::collections::BTreeMap::new();
        for article in articles {
            for (slug, spelling) in tag_spellings(article) {
                let tag = tagged.entry(slug).or_default();
                tag.0.push(article);
                tag.1
                    .insert(article.path.to_path_buf(), spelling.to_string());
            }
        }
        let tags = tagged
            .into_iter()
            .map(|(slug, (articles, spellings))| {
                let ranking = Ranking::new(articles, zone);
                (slug, Tag { spellings, ranking })
            })
            .collect();
        Corpus {
            zone,
            all,
            tags,
            rule: Arc::new(rule.clone()),
            languages,
        }
    }

    /// The rule that gives each article its language.
    pub fn language_rule(&self) -> &Languages {
        &self.rule
    }

    /// The languages that have articles, by tag, each with its articles.
    pub fn languages(&self) -> impl Iterator<Item = (&String, &Ranking)> {
        self.languages.iter()
    }

    /// The zone dates are read in.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Every article, in feed order.
    pub fn all(&self) -> &Ranking {
        &self.all
    }

    /// The tags, by slug.
    pub fn tags(&self) -> impl Iterator<Item = (&String, &Tag)> {
        self.tags.iter()
    }

    /// The tag of `slug`.
    pub fn tag(&self, slug: &str) -> Option<&Tag> {
        self.tags.get(slug)
    }

    /// Withdraws, then publishes, the articles of `changes`.
    pub fn apply(&mut self, changes: &Changes) -> Moved {
        let mut moved = Moved::default();
        let mut first = |p: usize| {
            moved.first_position = Some(moved.first_position.map_or(p, |f| f.min(p)));
        };
        for article in &changes.withdrawn {
            let len = self.all.len();
            if let Some(i) = self.all.remove(article, self.zone) {
                first(len - 1 - i);
            }
            let code = article.language_in(&self.rule);
            if let Some(ranking) = self.languages.get_mut(code) {
                ranking.remove(article, self.zone);
                if ranking.is_empty() {
                    self.languages.remove(code);
                }
            }
            for (slug, _) in tag_spellings(article) {
                if let Some(tag) = self.tags.get_mut(&slug) {
                    tag.ranking.remove(article, self.zone);
                    tag.spellings.remove(&*article.path);
                    if tag.ranking.is_empty() {
                        self.tags.remove(&slug);
                    }
                }
            }
        }
        for article in &changes.published {
            let i = self.all.insert(Arc::clone(article), self.zone);
            first(self.all.len() - 1 - i);
            let code = article.language_in(&self.rule).to_string();
            self.languages
                .entry(code)
                .or_default()
                .insert(Arc::clone(article), self.zone);
            for (slug, spelling) in tag_spellings(article) {
                let tag = self.tags.entry(slug.clone()).or_default();
                tag.ranking.insert(Arc::clone(article), self.zone);
                tag.spellings
                    .insert(article.path.to_path_buf(), spelling.to_string());
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn article(i: u32, day: u32, tags: &[&str]) -> Arc<Article> {
        let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
        // Every fourth story says it is in Persian.
        let language = if i.is_multiple_of(4) {
            "language = \"fa\"\n"
        } else {
            ""
        };
        let text = format!(
            "+++\ntitle = \"Story {i}\"\ndate = 2024-01-{day:02}T10:00:00Z\ntags = [{}]\n{language}+++\nBody {i}.\n",
            tags.join(", ")
        );
        Arc::new(
            crate::article::markdown::parse(Path::new(&format!("{i:03}.md")), &text)
                .unwrap()
                .article,
        )
    }

    fn english() -> Languages {
        Languages {
            site: "en".into(),
            listed: Vec::new(),
        }
    }

    fn ids(ranking: &Ranking) -> Vec<String> {
        ranking.iter().map(|a| a.title.clone()).collect()
    }

    #[test]
    fn changes_keep_the_order_a_fresh_sort_gives() {
        let zone = chrono_tz::UTC;
        let mut articles: Vec<Arc<Article>> = (1..=30)
            .map(|i| article(i, 1 + i % 9, if i % 3 == 0 { &["Three"] } else { &[] }))
            .collect();
        let mut corpus = Corpus::new(&articles, zone, &english());
        // Withdraw two, change one's date, add three.
        let changes = Changes {
            withdrawn: vec![
                Arc::clone(&articles[4]),
                Arc::clone(&articles[9]),
                Arc::clone(&articles[20]),
            ],
            published: vec![
                article(21, 28, &["three"]),
                article(31, 1, &[]),
                article(32, 9, &["New"]),
                article(33, 5, &["Three"]),
            ],
        };
        let moved = corpus.apply(&changes);
        articles.retain(|a| ![5, 10, 21].contains(&a.title[6..].parse::<u32>().unwrap()));
        articles.extend(changes.published.iter().cloned());
        let fresh = Corpus::new(&articles, zone, &english());
        assert_eq!(ids(corpus.all()), ids(fresh.all()));
        let tags = |c: &Corpus| -> Vec<(String, String, Vec<String>)> {
            c.tags()
                .map(|(slug, t)| (slug.clone(), t.name().to_string(), ids(&t.ranking)))
                .collect()
        };
        assert_eq!(tags(&corpus), tags(&fresh));
        let languages = |c: &Corpus| -> Vec<(String, Vec<String>)> {
            c.languages()
                .map(|(code, r)| (code.clone(), ids(r)))
                .collect()
        };
        assert_eq!(languages(&corpus), languages(&fresh));
        assert_eq!(
            languages(&corpus)
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>(),
            ["en", "fa"]
        );
        // The oldest article (day 1) did not move; a new one of day 1 sorts among them.
        assert!(moved.first_position.is_some_and(|p| p < 5));
    }

    #[test]
    fn archive_pages_are_oldest_first_chunks() {
        let zone = chrono_tz::UTC;
        let articles: Vec<Arc<Article>> = (1..=7).map(|i| article(i, i, &[])).collect();
        let corpus = Corpus::new(&articles, zone, &english());
        let all = corpus.all();
        assert_eq!(all.archive_pages(3), 2);
        let page = |n| -> Vec<String> {
            all.archive_page(3, n)
                .unwrap()
                .iter()
                .map(|a| a.title.clone())
                .collect()
        };
        assert_eq!(page(1), ["Story 1", "Story 2", "Story 3"]);
        assert_eq!(page(2), ["Story 4", "Story 5", "Story 6"]);
        assert!(all.archive_page(3, 3).is_none());
        assert!(all.archive_page(3, 0).is_none());
        assert_eq!(all.archive_pages(0), 0);
    }
}
