//! RFC 5005 archived feeds: the whole history, in stable pages.
//!
//! Articles are ordered oldest first and cut into pages of `archive_page_size`; only
//! complete pages are archive pages, and the newest articles not yet on a complete page are
//! in the subscription feed (`archive_page_size` is at most `max_items`, so none is left
//! out). Adding a newer article therefore never changes a complete page's items; at most
//! the newest page gains a `next-archive` link when a new page is completed after it.

use std::sync::Arc;

use super::{atom, rss, FeedHead, Format, RenderError};
use crate::article::Article;
use crate::config::Config;
use crate::item::FeedItem;

/// The path of archive page `number` (from 1) of `format`.
pub fn path(format: Format, number: usize) -> String {
    format!("/archive/{}/{number}.xml", format.name())
}

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
    }
}

/// Renders archive page `number` of `total`, whose articles are `page`. Items are listed
/// newest first, like the subscription feed.
pub fn render_page(
    format: Format,
    number: usize,
    total: usize,
    page: &[Arc<Article>],
    config: &Config,
) -> Result<Vec<u8>, RenderError> {
    let items: Vec<FeedItem> = page
        .iter()
        .rev()
        .map(|a| FeedItem::new(Arc::clone(a), config))
        .collect();
    let links = links(config, format, number, total);
    Ok(match format {
        Format::Rss => rss::render_rss(&items, config, &links)?,
        Format::Atom => atom::render_atom(&items, config, &links)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::config::Overrides;
    use crate::feed::Feeds;

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
