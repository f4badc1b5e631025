//! Markdown articles: `*.md` files with TOML (`+++`) or YAML (`---`) front matter and a
//! CommonMark body.
//!
//! Front matter keys: `title` (required), `date` (required: RFC 3339, or a local date-time
//! or date read in the configured zone), `id` (default: the file name without extension),
//! `summary`, `tags`, `author`, `draft`, `language` (a BCP 47 tag: the article's language,
//! instead of the one its script suggests) and `updated` (when it was last corrected, in
//! the forms of `date`, not earlier than it). Other keys are ignored, so files written for other
//! site generators load as they are. Errors name the line in the file.

use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
use serde::Deserialize;

use super::text::clean_lines;
use super::{Article, ArticleError, Extra, Parsed, TextPlace};

/// Whether `path` names a Markdown article (by its extension).
pub fn is_markdown(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("md" | "markdown")
    )
}

#[derive(Debug, Deserialize)]
struct FrontMatter {
    title: Option<String>,
    date: Option<DateValue>,
    id: Option<DateOrText>,
    summary: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    author: Option<String>,
    #[serde(default)]
    draft: bool,
    language: Option<String>,
    updated: Option<DateValue>,
}

/// TOML has a date type; YAML gives dates as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

/// An id may be written as a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DateOrText {
    Number(i64),
    Text(String),
}

/// Parses a Markdown article. Links and images stay as written; [`crate::html::absolutize`] makes
/// them
/// absolute once the site's URL is known.
pub fn parse(path: &Path, text: &str) -> Result<Parsed, ArticleError> {
    let mut warnings = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = clean_lines(path, text, false, &mut warnings);
    let error = |line: usize, message: String| ArticleError::FrontMatter {
        path: path.to_path_buf(),
        line,
        message,
    };
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let Some(first) = first else {
        return Err(ArticleError::Empty {
            path: path.to_path_buf(),
        });
    };
    let fence = lines[first].trim();
    if fence != "+++" && fence != "---" {
        return Err(error(
            first + 1,
            "expected `+++` (TOML) or `---` (YAML) on the first line".into(),
        ));
    }
    let Some(close) = lines[first + 1..]
        .iter()
        .position(|l| l.trim() == fence)
        .map(|i| i + first + 1)
    else {
        return Err(error(first + 1, format!("no closing `{fence}`")));
    };
    let matter = lines[first + 1..close].join("\n");
    let matter_line = first + 2; // the line of the front matter's first line
    let front: FrontMatter = if fence == "+++" {
        toml::from_str(&matter).map_err(|e| {
            let line = e
                .span()
                .map(|s| matter[..s.start.min(matter.len())].matches('\n').count())
                .unwrap_or(0);
            error(matter_line + line, e.message().to_string())
        })?
    } else {
        serde_norway::from_str(&matter).map_err(|e| {
            let line = e
                .location()
                .map(|l| l.line().saturating_sub(1))
                .unwrap_or(0);
            error(matter_line + line, e.to_string())
        })?
    };
    let find_key = |key: &str| {
        lines[first + 1..close]
            .iter()
            .position(|l| l.trim_start().starts_with(key))
            .map(|i| first + 2 + i)
            .unwrap_or(first + 1)
    };
    let title = front
        .title
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "));
    let Some(title) = title.filter(|t| !t.is_empty()) else {
        return Err(ArticleError::NoTitle {
            path: path.to_path_buf(),
            line: first + 1,
        });
    };
    let Some(date) = front.date else {
        return Err(ArticleError::NoDate {
            path: path.to_path_buf(),
        });
    };
    let read_date = |key: &str, value: DateValue| {
        let text = match value {
            DateValue::Toml(d) => d.to_string(),
            DateValue::Text(t) => t,
        };
        parse_date(text.trim()).ok_or_else(|| ArticleError::BadDate {
            path: path.to_path_buf(),
            line: find_key(key),
            what: format!("`{key}`: `{text}` is not a date: expected RFC 3339 (`2024-05-01T10:00:00+03:30`), `2024-05-01 10:00` or `2024-05-01`"),
        })
    };
    let (published, offset) = read_date("date", date)?;
    let (updated, updated_offset) = match front.updated {
        Some(value) => {
            let (updated, updated_offset) = read_date("updated", value)?;
            // Compared as instants when both have offsets, else as the local times they are.
            let earlier = match (offset, updated_offset) {
                (Some(a), Some(b)) => {
                    published - chrono::Duration::seconds(a.local_minus_utc().into())
                        > updated - chrono::Duration::seconds(b.local_minus_utc().into())
                }
                _ => published > updated,
            };
            if earlier {
                return Err(ArticleError::BadDate {
                    path: path.to_path_buf(),
                    line: find_key("updated"),
                    what:
                        "`updated` is earlier than `date`: a correction comes after the publication"
                            .into(),
                });
            }
            (Some(updated), updated_offset)
        }
        None => (None, None),
    };
    let language = match front.language.as_deref().map(crate::lang::normalize_tag) {
        None => None,
        Some(Ok(tag)) => Some(tag),
        Some(Err(message)) => {
            return Err(error(
                find_key("language"),
                format!("`language`: {message}"),
            ))
        }
    };
    let id = match front.id {
        Some(DateOrText::Number(n)) => n.to_string(),
        Some(DateOrText::Text(t)) if !t.trim().is_empty() => t.trim().to_string(),
        _ => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };

    let body = lines[close + 1..].join("\n");
    let (html, paragraphs) = render(&body);
    let mut tags: Vec<String> = Vec::new();
    for tag in front.tags {
        let tag = tag.split_whitespace().collect::<Vec<_>>().join(" ");
        if !tag.is_empty() && !tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            tags.push(tag);
        }
    }
    Ok(Parsed {
        article: Article {
            id,
            path: path.into(),
            title,
            published,
            paragraphs,
            views: None,
            draft: front.draft,
            detected: None,
            text: TextPlace::Held,
            extra: Some(Box::new(Extra {
                offset,
                html: Some(html),
                summary: front
                    .summary
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
                tags,
                author: front.author.filter(|a| !a.trim().is_empty()),
                language,
                updated,
                updated_offset,
            })),
        },
        warnings,
    })
}

/// Reads `2024-05-01T10:00:00+03:30` (with its offset), or a local `2024-05-01T10:00[:00]`,
/// `2024-05-01 10:00[:00]`, or `2024-05-01` (midnight).
fn parse_date(text: &str) -> Option<(NaiveDateTime, Option<chrono::FixedOffset>)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some((t.naive_local(), Some(*t.offset())));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some((t, None));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| (d.and_time(NaiveTime::MIN), None))
}

/// Renders CommonMark to HTML, with raw HTML escaped (an article cannot inject markup into
/// the pages or feeds), and collects the plain text of each paragraph.
fn render(body: &str) -> (String, Vec<String>) {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
    let mut paragraphs = Vec::new();
    let mut current: Option<String> = None;
    let events = Parser::new_ext(body, options).map(|event| {
        match &event {
            Event::Start(Tag::Paragraph) => current = Some(String::new()),
            Event::End(TagEnd::Paragraph) => {
                if let Some(p) = current.take() {
                    let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !p.is_empty() {
                        paragraphs.push(p);
                    }
                }
            }
            Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) => {
                if let Some(p) = current.as_mut() {
                    p.push_str(t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(p) = current.as_mut() {
                    p.push(' ');
                }
            }
            _ => {}
        }
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Image {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            other => other,
        }
    });
    let mut html = String::with_capacity(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    (html.trim_end().to_string(), paragraphs)
}

/// A link or image destination, unless its scheme could run code (`javascript:`,
/// `vbscript:`, `data:`, ...): only http, https, mailto and relative URLs are kept; others
/// become `#`. The scheme is read as browsers do, ignoring white space and control
/// characters and case.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let squeezed: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(32)
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme = squeezed
        .find(':')
        .filter(|&i| !squeezed[..i].contains(['/', '?', '#']))
        .map(|i| &squeezed[..i]);
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::absolutize;

    fn md(text: &str) -> Result<Parsed, ArticleError> {
        parse(Path::new("posts/hello-world.md"), text)
    }

    #[test]
    fn toml_front_matter() {
        let p = md("+++\ntitle = \"Hello & welcome\"\ndate = 2024-05-01T10:00:00+03:30\ntags = [\"Traffic\", \"safety\", \"traffic\"]\nauthor = \"Desk\"\n+++\n\nFirst *para*.\n\nSecond <b>raw</b>.\n").unwrap();
        let a = p.article;
        assert_eq!(a.title, "Hello & welcome");
        assert_eq!(a.id, "hello-world");
        assert_eq!(a.tags(), ["Traffic", "safety"]);
        assert_eq!(a.author(), Some("Desk"));
        assert_eq!(a.paragraphs, vec!["First para.", "Second <b>raw</b>."]);
        let html = a.html().unwrap().to_string();
        assert!(html.contains("<em>para</em>"), "{html}");
        assert!(
            html.contains("&lt;b&gt;raw&lt;/b&gt;"),
            "raw HTML is escaped: {html}"
        );
        assert_eq!(
            a.instant(chrono_tz::UTC).to_rfc3339(),
            "2024-05-01T06:30:00+00:00"
        );
    }

    #[test]
    fn yaml_front_matter_with_local_date_and_id() {
        let a = md("---\ntitle: Yaml post\ndate: 2024-05-01 09:30\nid: 7001\nsummary: Short.\ndraft: true\n---\nBody.\n")
            .unwrap()
            .article;
        assert_eq!(a.id, "7001");
        assert_eq!(a.summary(), Some("Short."));
        assert!(a.draft);
        let tehran: chrono_tz::Tz = "Asia/Tehran".parse().unwrap();
        assert_eq!(a.instant(tehran).to_rfc3339(), "2024-05-01T09:30:00+03:30");
        let a = md("---\ntitle: Day only\ndate: 2024-05-01\n---\n")
            .unwrap()
            .article;
        assert_eq!(
            a.instant(chrono_tz::UTC).to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
    }

    #[test]
    fn front_matter_errors_point_into_the_front_matter() {
        let e = md("+++\ntitle = \"x\"\ndate = \n+++\n").unwrap_err();
        assert!(
            matches!(e, ArticleError::FrontMatter { line: 3, .. }),
            "{e}"
        );
        let e = md("---\ntitle: x\ndate: [unclosed\n---\n").unwrap_err();
        assert!(
            matches!(e, ArticleError::FrontMatter { line: 3 | 4, .. }),
            "{e}"
        );
        let e = md("+++\ntitle = \"x\"\ndate = \"someday\"\n+++\n").unwrap_err();
        assert!(matches!(e, ArticleError::BadDate { line: 3, .. }), "{e}");
        assert!(matches!(
            md("+++\ndate = 2024-01-01\n+++\n"),
            Err(ArticleError::NoTitle { .. })
        ));
        assert!(matches!(
            md("+++\ntitle = \"t\"\n+++\n"),
            Err(ArticleError::NoDate { .. })
        ));
        assert!(matches!(
            md("just text\n"),
            Err(ArticleError::FrontMatter { line: 1, .. })
        ));
        assert!(matches!(
            md("+++\ntitle = \"t\"\n"),
            Err(ArticleError::FrontMatter { line: 1, .. })
        ));
        assert!(matches!(md("\n \n"), Err(ArticleError::Empty { .. })));
    }

    #[test]
    fn language_and_updated_are_read_checked_and_named_by_line() {
        let a = md("+++\ntitle = \"t\"\ndate = 2024-05-01T10:00:00+03:30\nlanguage = \"FA-ir\"\nupdated = \"2024-05-02 08:00\"\n+++\nBody.\n")
            .unwrap()
            .article;
        assert_eq!(a.language(), Some("fa-IR"));
        assert_eq!(
            a.updated().map(|u| u.to_string()).as_deref(),
            Some("2024-05-02 08:00:00")
        );
        assert_eq!(a.updated_offset(), None);
        // The same instant written in another offset is not earlier.
        let same = md("+++\ntitle = \"t\"\ndate = 2024-05-01T10:00:00+03:30\nupdated = 2024-05-01T06:30:00Z\n+++\nB.\n");
        assert!(same.is_ok(), "{same:?}");
        let early = md("+++\ntitle = \"t\"\ndate = 2024-05-01T10:00:00+03:30\nupdated = 2024-05-01T06:29:59Z\n+++\nB.\n")
            .unwrap_err();
        assert_eq!(
            early.to_string(),
            "posts/hello-world.md:4: `updated` is earlier than `date`: a correction comes after the publication"
        );
        let bad = md("---\ntitle: t\ndate: 2024-05-01\n\nlanguage: xx_YY!\n---\nB.\n").unwrap_err();
        assert!(
            bad.to_string().starts_with("posts/hello-world.md:5: front matter: `language`: `xx_YY!` is not a BCP 47 language tag"),
            "{bad}"
        );
        let not_a_date =
            md("+++\ntitle = \"t\"\ndate = 2024-05-01\nupdated = \"soon\"\n+++\nB.\n").unwrap_err();
        assert!(
            not_a_date
                .to_string()
                .starts_with("posts/hello-world.md:4: `updated`: `soon` is not a date"),
            "{not_a_date}"
        );
    }

    #[test]
    fn script_urls_in_links_and_images_are_neutralized() {
        let a = md("+++\ntitle = \"t\"\ndate = 2024-05-01\n+++\n[a](javascript:alert(1)) [b](JaVa%09Script:x) ![c](data:text/html,x) [d](https://ok.example/) [e](page.html) [f](mailto:x@example.org) <vbscript:x>\n")
            .unwrap()
            .article;
        let html = a.html().unwrap().to_string();
        for attr in html.split(['"']).collect::<Vec<_>>().windows(2) {
            if attr[0].ends_with("href=") || attr[0].ends_with("src=") {
                let url = attr[1].to_ascii_lowercase();
                assert!(
                    !url.contains("script") && !url.starts_with("data:"),
                    "{html}"
                );
            }
        }
        assert!(html.contains("<img src=\"#\""), "{html}");
        assert!(html.contains("href=\"https://ok.example/\""), "{html}");
        assert!(html.contains("href=\"page.html\""), "{html}");
        assert!(html.contains("href=\"mailto:x@example.org\""), "{html}");
        assert_eq!(html.matches("href=\"#\"").count(), 3, "{html}");
    }

    #[test]
    fn relative_links_and_images_become_absolute() {
        let html = "<p><a href=\"/about\">a</a> <a href=\"page.html\">b</a> <a href=\"https://x.org/\">c</a> <a href=\"#top\">d</a>\n<img src=\"./img/p.png\" alt=\"\" /></p>";
        let out = absolutize(html, "https://news.example.org/en");
        assert!(
            out.contains("href=\"https://news.example.org/about\""),
            "{out}"
        );
        assert!(
            out.contains("href=\"https://news.example.org/en/page.html\""),
            "{out}"
        );
        assert!(out.contains("href=\"https://x.org/\""), "{out}");
        assert!(out.contains("href=\"#top\""), "{out}");
        assert!(
            out.contains("src=\"https://news.example.org/en/img/p.png\""),
            "{out}"
        );
    }
}
