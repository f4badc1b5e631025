//! One article file: its bytes become an [`Article`].
//!
//! Pure: nothing here touches the file system. [`Article::from_bytes`] takes the bytes the
//! loader read and the path that names them in messages; every error and warning carries
//! that path and, where one applies, the line. Two formats: the scraped news page
//! ([`scraped`]) and Markdown with front matter ([`markdown`]); [`text`] holds the line and
//! character rules both share.

pub mod markdown;
pub mod scraped;
pub mod text;

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::lang::{detect, Detection, Languages};
/// A parsed article, ready to become a feed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The stable identity: the footer's `number`, else the file name without extension.
    pub id: String,
    /// The file it was read from (boxed: a million articles need no spare capacity).
    pub path: Box<Path>,
    /// The title, plain text.
    pub title: String,
    /// Local publication time, in the configured zone: the footer's date and time, else the
    /// date line at midnight.
    pub published: NaiveDateTime,
    /// Body paragraphs, plain text, in order.
    pub paragraphs: Vec<String>,
    /// The footer's view count. It changes at every scrape and is never published; it only
    /// decides which of two scrapes of one article is the later.
    pub views: Option<u64>,
    /// A draft is never published.
    pub draft: bool,
    /// What the letters of its title and text say about its language; with `language` and
    /// the site's languages it decides the article's language ([`Article::language_in`]).
    pub detected: Option<Detection>,
    /// Where the text (`paragraphs`, `html`, `summary`) is: in those fields, or left in the
    /// file to save memory (see [`Article::without_text`]).
    pub text: TextPlace,
    /// What only some formats give (Markdown's front matter); `None` when it would be all
    /// empty, as for every scraped article. Kept apart so that an article of a million is
    /// small: see [`Extra`].
    pub extra: Option<Box<Extra>>,
}

/// The parts of an [`Article`] that scraped articles never have, read through the
/// article's accessors ([`Article::html`], ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    /// The UTC offset `published` is in, when the article says so (a Markdown date with an
    /// offset); otherwise `published` is read in the configured zone.
    pub offset: Option<FixedOffset>,
    /// The body as HTML, for formats that have markup (Markdown); otherwise the HTML is made
    /// from `paragraphs`.
    pub html: Option<String>,
    /// A summary given by the author, instead of the cut first paragraph.
    pub summary: Option<String>,
    /// Tags (RSS `category`, Atom `category`, JSON Feed `tags`); each also has its own feeds.
    pub tags: Vec<String>,
    /// The article's author, when it names one.
    pub author: Option<String>,
    /// The language its author gave (Markdown `language`), a BCP 47 tag in canonical case.
    pub language: Option<String>,
    /// When it was last corrected (Markdown `updated`), local like `published`, never
    /// earlier than it.
    pub updated: Option<NaiveDateTime>,
    /// The UTC offset `updated` is in, when the article says so.
    pub updated_offset: Option<FixedOffset>,
}

/// Where an article's text is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TextPlace {
    /// In the article: `paragraphs`, `html` and `summary` hold it.
    #[default]
    Held,
    /// Only in the file at the article's `path`, whose bytes hash (xxh3-128) to `digest`:
    /// those fields are empty, and the loader reads the text again when a document needs it
    /// (`loader::with_text`). A server keeps in memory only what ordering and change
    /// detection need; the text of 100,000 articles was 436 MB of its 614 MB.
    InFile {
        /// xxh3-128 of the file's bytes when the article was parsed.
        digest: Digest,
    },
}

/// An xxh3-128 digest, kept as two words: a `u128` would align every article (and every
/// structure that holds one) to 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u64; 2]);

impl Digest {
    /// The digest `value`.
    pub fn new(value: u128) -> Digest {
        Digest([value as u64, (value >> 64) as u64])
    }

    /// The digest as a number.
    pub fn get(self) -> u128 {
        u128::from(self.0[0]) | (u128::from(self.0[1]) << 64)
    }
}

impl Article {
    /// The UTC offset `published` is in, when the article says so ([`Extra::offset`]).
    pub fn offset(&self) -> Option<FixedOffset> {
        self.extra.as_ref().and_then(|e| e.offset)
    }

    /// The body as HTML, for formats that have markup ([`Extra::html`]).
    pub fn html(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.html.as_deref())
    }

    /// The author's summary ([`Extra::summary`]).
    pub fn summary(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.summary.as_deref())
    }

    /// The tags as written ([`Extra::tags`]).
    pub fn tags(&self) -> &[String] {
        self.extra.as_ref().map_or(&[], |e| &e.tags)
    }

    /// The author it names ([`Extra::author`]).
    pub fn author(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.author.as_deref())
    }

    /// The language its author gave ([`Extra::language`]).
    pub fn language(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.language.as_deref())
    }

    /// When it was last corrected ([`Extra::updated`]).
    pub fn updated(&self) -> Option<NaiveDateTime> {
        self.extra.as_ref().and_then(|e| e.updated)
    }

    /// The UTC offset `updated` is in ([`Extra::updated_offset`]).
    pub fn updated_offset(&self) -> Option<FixedOffset> {
        self.extra.as_ref().and_then(|e| e.updated_offset)
    }

    /// The publication instant: `published` read at the article's own offset, else in `zone`.
    pub fn instant(&self, zone: Tz) -> DateTime<FixedOffset> {
        instant_of(self.published, self.offset(), zone)
    }

    /// The instant of the last correction: `updated` read like `published`, else the
    /// publication instant.
    pub fn updated_instant(&self, zone: Tz) -> DateTime<FixedOffset> {
        match self.updated() {
            Some(updated) => instant_of(updated, self.updated_offset(), zone),
            None => self.instant(zone),
        }
    }

    /// The article's language among the site's `languages` (the rule of [`crate::lang`]).
    pub fn language_in<'a>(&'a self, languages: &'a Languages) -> &'a str {
        languages.resolve(self.language(), self.detected)
    }

    /// This article with its text left in its file, whose bytes hash to `digest`: what
    /// ordering, identity, change detection and the pages' titles need stays.
    pub fn without_text(mut self, digest: u128) -> Article {
        self.paragraphs = Vec::new();
        if let Some(extra) = &mut self.extra {
            extra.html = None;
            extra.summary = None;
            if **extra == Extra::default() {
                self.extra = None;
            }
        }
        self.text = TextPlace::InFile {
            digest: Digest::new(digest),
        };
        self
    }

    /// Reads the script of the title and the text into `detected`.
    fn detect_language(&mut self) {
        self.detected = detect(
            std::iter::once(self.title.as_str()).chain(self.paragraphs.iter().map(String::as_str)),
        );
    }
}

/// `local` read at `offset` (shown in `zone`), else in `zone`.
fn instant_of(
    local: NaiveDateTime,
    offset: Option<FixedOffset>,
    zone: Tz,
) -> DateTime<FixedOffset> {
    match offset {
        Some(offset) => match offset.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&zone).fixed_offset(),
            _ => local_time(local, zone),
        },
        None => local_time(local, zone),
    }
}

/// A warning or error about one file, printed as `FILE:LINE: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line, where one applies.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Why an article was rejected. Each variant names the file; its [`Display`](fmt::Display)
/// is `FILE:LINE: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArticleError {
    /// The file could not be read.
    #[error("{}: cannot read: {message}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The file is larger than `max_article_bytes`.
    #[error("{}: file is {size} bytes, larger than the limit of {limit} bytes (max_article_bytes)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The configured cap.
        limit: u64,
    },
    /// The file is empty or holds only white space.
    #[error("{}: empty article", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file contains NUL bytes: it is not a text article.
    #[error("{}:{line}: binary file (NUL byte), not a text article", path.display())]
    Binary {
        /// The file.
        path: PathBuf,
        /// The line of the first NUL byte.
        line: usize,
    },
    /// No title line was found after the chrome and the date line.
    #[error("{}:{line}: no title: expected a title line here", path.display())]
    NoTitle {
        /// The file.
        path: PathBuf,
        /// Where the title was expected.
        line: usize,
    },
    /// Neither a footer nor a date line gives the publication date.
    #[error("{}: no date: expected a date line such as `12 May 2018` before the title, or a footer such as `12:55 - 2018/05/12 / number : 26462 / Show Count : 569` as the last line", path.display())]
    NoDate {
        /// The file.
        path: PathBuf,
    },
    /// A date line or footer names a day or time that does not exist.
    #[error("{}:{line}: {what}", path.display())]
    BadDate {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// What is wrong with it.
        what: String,
    },
    /// The front matter of a Markdown article is missing or invalid.
    #[error("{}:{line}: front matter: {message}", path.display())]
    FrontMatter {
        /// The file.
        path: PathBuf,
        /// The line, within the file.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The last line looks like a footer but could not be read.
    #[error("{}:{line}: malformed footer: expected `HH:MM - YYYY/MM/DD / number : N / Show Count : N`", path.display())]
    BadFooter {
        /// The file.
        path: PathBuf,
        /// The footer's line.
        line: usize,
    },
}

impl ArticleError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ArticleError::Unreadable { path, .. }
            | ArticleError::TooLarge { path, .. }
            | ArticleError::Empty { path }
            | ArticleError::Binary { path, .. }
            | ArticleError::NoTitle { path, .. }
            | ArticleError::NoDate { path }
            | ArticleError::BadDate { path, .. }
            | ArticleError::FrontMatter { path, .. }
            | ArticleError::BadFooter { path, .. } => path,
        }
    }
}

/// An article with the warnings met while reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The article.
    pub article: Article,
    /// Things that were repaired (removed characters, legacy encoding, ...).
    pub warnings: Vec<Diagnostic>,
}

/// Reads a local wall-clock time in `zone`. A time skipped by a daylight-saving change
/// (such as midnight on the day Tehran moved its clocks forward) is read one hour later;
/// a time that occurs twice is read as the first.
pub fn local_time(local: NaiveDateTime, zone: Tz) -> DateTime<FixedOffset> {
    let resolved = match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
        LocalResult::None => {
            match zone.from_local_datetime(&(local + chrono::Duration::hours(1))) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
                LocalResult::None => None,
            }
        }
    };
    match resolved {
        Some(t) => t.fixed_offset(),
        // No zone skips two hours in a row; fall back to UTC rather than fail.
        None => local.and_utc().fixed_offset(),
    }
}

impl Article {
    /// Decodes the bytes of an article file and parses it.
    ///
    /// UTF-8 (with or without a BOM) is expected; other bytes are read as Windows-1252 with
    /// a warning. Characters that XML 1.0 forbids are removed with a warning.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Parsed, ArticleError> {
        let mut parsed = Article::from_bytes_undetected(path, bytes)?;
        parsed.article.detect_language();
        Ok(parsed)
    }

    /// The article of the same bytes `article` was parsed from, parsed again for its text:
    /// the script of its letters is taken from `article`, not read again (a tenth of the
    /// cost of a page made from an article's file).
    pub fn reparsed(article: &Article, bytes: &[u8]) -> Result<Parsed, ArticleError> {
        let mut parsed = Article::from_bytes_undetected(&article.path, bytes)?;
        parsed.article.detected = article.detected;
        Ok(parsed)
    }

    /// [`Article::from_bytes`] without reading the script of the letters.
    fn from_bytes_undetected(path: &Path, bytes: &[u8]) -> Result<Parsed, ArticleError> {
        let mut warnings = Vec::new();
        if let Some(pos) = memchr::memchr(0, bytes) {
            let line = 1 + memchr::memchr_iter(b'\n', &bytes[..pos]).count();
            return Err(ArticleError::Binary {
                path: path.to_path_buf(),
                line,
            });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        // simdutf8 validates with vector instructions; its `compat` flavour reports where
        // invalid input starts, as `std::str::from_utf8` does.
        let text = match simdutf8::compat::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(e) => {
                let line = 1 + memchr::memchr_iter(b'\n', &bytes[..e.valid_up_to()]).count();
                warnings.push(Diagnostic {
                    path: path.to_path_buf(),
                    line: Some(line),
                    message: "not valid UTF-8; decoded as Windows-1252".into(),
                });
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
            }
        };
        let is_markdown = markdown::is_markdown(path);
        let mut parsed = if is_markdown {
            markdown::parse(path, &text)?
        } else {
            scraped::parse(path, &text)?
        };
        warnings.append(&mut parsed.warnings);
        parsed.warnings = warnings;
        text::remove_forbidden_characters(&mut parsed, &text, !is_markdown)?;
        Ok(parsed)
    }

    /// Parses the text of a scraped article file (see [`scraped::parse`]).
    pub fn parse(path: &Path, text: &str) -> Result<Parsed, ArticleError> {
        let mut parsed = scraped::parse(path, text)?;
        parsed.article.detect_language();
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn tehran_dates_follow_daylight_saving() {
        let tz: Tz = "Asia/Tehran".parse().unwrap();
        let summer = NaiveDate::from_ymd_opt(2018, 5, 12)
            .unwrap()
            .and_hms_opt(12, 55, 0)
            .unwrap();
        assert_eq!(
            local_time(summer, tz).to_rfc3339(),
            "2018-05-12T12:55:00+04:30"
        );
        let winter = NaiveDate::from_ymd_opt(2018, 1, 2)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(
            local_time(winter, tz).to_rfc3339(),
            "2018-01-02T00:00:00+03:30"
        );
        // Clocks went from 00:00 to 01:00 on 22 March 2018.
        let skipped = NaiveDate::from_ymd_opt(2018, 3, 22)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(
            local_time(skipped, tz).to_rfc3339(),
            "2018-03-22T01:00:00+04:30"
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// A server holds one `Article` per file: a million of them. With its `Arc` counts an
    /// article must stay within jemalloc's 192-byte size class (it was 384 before the parts
    /// only Markdown has moved to `Extra`).
    #[test]
    fn an_article_fits_in_192_bytes_with_its_reference_counts() {
        assert!(
            std::mem::size_of::<Article>() + 16 <= 192,
            "Article is {} bytes",
            std::mem::size_of::<Article>()
        );
    }
}
