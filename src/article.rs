//! One article file: decoding its bytes and parsing the scraped page format.
//!
//! Pure: nothing here touches the file system. [`Article::from_bytes`] takes the bytes the
//! loader read and the path that names them in messages; every error and warning carries
//! that path and, where one applies, the line.
//!
//! The format, in order: optional page chrome (`Print   Send to Friend`), an optional date
//! line (`12 May 2018`), the title, body paragraphs separated by blank lines, and an optional
//! footer `12:55 - 2018/05/12 / number : 26462 / Show Count : 569`.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use regex::Regex;

/// A parsed article, ready to become a feed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The stable identity: the footer's `number`, else the file name without extension.
    pub id: String,
    /// The file it was read from.
    pub path: PathBuf,
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
    /// A draft is never published.
    pub draft: bool,
}

impl Article {
    /// The publication instant: `published` read at the article's own offset, else in `zone`.
    pub fn instant(&self, zone: chrono_tz::Tz) -> chrono::DateTime<FixedOffset> {
        match self.offset {
            Some(offset) => match offset.from_local_datetime(&self.published) {
                chrono::LocalResult::Single(t) => t.with_timezone(&zone).fixed_offset(),
                _ => crate::item::local_time(self.published, zone),
            },
            None => crate::item::local_time(self.published, zone),
        }
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

static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(\d{1,2})\s*:\s*(\d{1,2})\s*-\s*(\d{4})\s*/\s*(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*number\s*:\s*(\d{1,19})\s*(?:/\s*show\s*count\s*:\s*(\d{1,19}))?$",
    )
    .expect("the footer pattern is a valid regular expression")
});

/// The seven groups of [`FOOTER`] (hour, minute, year, month, day, number, views) when
/// `line` matches it. A line whose only non-ASCII characters are white space (scraped
/// footers use no-break spaces) is read by hand, with exactly the pattern's meaning; any
/// other line goes through the regular expression, whose `\d` and `(?i)` are
/// Unicode-aware.
fn footer_captures(line: &str) -> Option<[Option<&str>; 7]> {
    if line.is_ascii() || line.chars().all(|c| c.is_ascii() || c.is_whitespace()) {
        return read_footer(line);
    }
    let caps = FOOTER.captures(line)?;
    let mut groups = [None; 7];
    for (i, group) in groups.iter_mut().enumerate() {
        *group = caps.get(i + 1).map(|m| m.as_str());
    }
    Some(groups)
}

/// [`FOOTER`] on a line whose non-ASCII characters are all white space. Every group of
/// digits in the pattern is followed by white space, punctuation or the end, so a group
/// takes a whole run of digits or fails.
fn read_footer(line: &str) -> Option<[Option<&str>; 7]> {
    struct Cursor<'a> {
        s: &'a str,
        i: usize,
    }
    impl<'a> Cursor<'a> {
        fn space(&mut self) -> &mut Self {
            // `\s` is the Unicode White_Space property, as `char::is_whitespace`.
            let rest = &self.s[self.i..];
            let trimmed = rest.trim_start_matches(char::is_whitespace);
            self.i += rest.len() - trimmed.len();
            self
        }
        fn byte(&mut self, b: u8) -> Option<()> {
            (self.s.as_bytes().get(self.i) == Some(&b)).then(|| self.i += 1)
        }
        fn word(&mut self, w: &str) -> Option<()> {
            let end = self.i + w.len();
            let got = self.s.as_bytes().get(self.i..end)?;
            got.eq_ignore_ascii_case(w.as_bytes()).then(|| self.i = end)
        }
        fn digits(&mut self, min: usize, max: usize) -> Option<&'a str> {
            let run = self.s.as_bytes()[self.i..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if run < min || run > max {
                return None;
            }
            let digits = &self.s[self.i..self.i + run];
            self.i += run;
            Some(digits)
        }
        fn at_end(&self) -> bool {
            self.i == self.s.len()
        }
    }
    let mut c = Cursor { s: line, i: 0 };
    let hour = c.digits(1, 2)?;
    c.space().byte(b':')?;
    let minute = c.space().digits(1, 2)?;
    c.space().byte(b'-')?;
    let year = c.space().digits(4, 4)?;
    c.space().byte(b'/')?;
    let month = c.space().digits(1, 2)?;
    c.space().byte(b'/')?;
    let day = c.space().digits(1, 2)?;
    c.space().byte(b'/')?;
    c.space().word("number")?;
    c.space().byte(b':')?;
    let number = c.space().digits(1, 19)?;
    let mut views = None;
    if !c.space().at_end() {
        c.byte(b'/')?;
        c.space().word("show")?;
        c.space().word("count")?;
        c.space().byte(b':')?;
        views = Some(c.space().digits(1, 19)?);
        if !c.at_end() {
            return None;
        }
    }
    Some([
        Some(hour),
        Some(minute),
        Some(year),
        Some(month),
        Some(day),
        Some(number),
        views,
    ])
}

/// A line that is meant as a footer (it names both the number and the view count, or starts
/// with the footer's `HH:MM - YYYY/` time stamp) but does not match [`FOOTER`]. A paragraph
/// that merely mentions "number: 110" is body text.
static FOOTERISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(number\s*:\s*\d+.*show\s*count)|^\d{1,2}\s*:\s*\d{1,2}\s*-\s*\d{4}\s*/")
        .expect("valid regular expression")
});

/// Words of the page chrome around a scraped article (links to print or mail the page).
const CHROME_LABELS: &[&str] = &[
    "print",
    "send to friend",
    "send to a friend",
    "email",
    "e-mail",
    "share",
    "save",
    "pdf",
    "bookmark",
    "print version",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl Article {
    /// Decodes the bytes of an article file and parses it.
    ///
    /// UTF-8 (with or without a BOM) is expected; other bytes are read as Windows-1252 with
    /// a warning. Characters that XML 1.0 forbids are removed with a warning.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Parsed, ArticleError> {
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
        let markdown = crate::markdown::is_markdown(path);
        let mut parsed = if markdown {
            crate::markdown::parse(path, &text)?
        } else {
            Article::parse(path, &text)?
        };
        warnings.append(&mut parsed.warnings);
        parsed.warnings = warnings;
        remove_forbidden_characters(&mut parsed, &text, !markdown)?;
        Ok(parsed)
    }

    /// Parses the text of an article file. `path` names the file in messages and gives the
    /// identity of an article without a footer.
    pub fn parse(path: &Path, text: &str) -> Result<Parsed, ArticleError> {
        let path_buf = path.to_path_buf();
        let mut warnings = Vec::new();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);

        // Lines, trimmed, with characters XML cannot carry removed; line `i` is line `i + 1`
        // of the file.
        let cleaned = clean_lines(path, text, true, &mut warnings);
        let lines: Vec<(usize, &str)> = cleaned
            .iter()
            .enumerate()
            .map(|(index, line)| (index + 1, trim(line)))
            .collect();

        let content: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].1.is_empty())
            .collect();
        let Some(&last) = content.last() else {
            return Err(ArticleError::Empty { path: path_buf });
        };

        // Footer: the last non-empty line.
        let mut footer = None;
        let mut body_end = lines.len();
        let (footer_line, footer_text) = &lines[last];
        if let Some(caps) = footer_captures(footer_text) {
            let num = |i: usize| caps[i - 1].map(str::parse::<u64>);
            let bad_footer = || ArticleError::BadFooter {
                path: path_buf.clone(),
                line: *footer_line,
            };
            let field = |i: usize| -> Result<u64, ArticleError> {
                match num(i) {
                    Some(Ok(v)) => Ok(v),
                    _ => Err(bad_footer()),
                }
            };
            let (hour, minute, year, month, day) =
                (field(1)?, field(2)?, field(3)?, field(4)?, field(5)?);
            let number = field(6)?;
            let views = match num(7) {
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => return Err(bad_footer()),
                None => None,
            };
            let date = NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32).ok_or_else(
                || ArticleError::BadDate {
                    path: path_buf.clone(),
                    line: *footer_line,
                    what: format!("footer date {year}/{month}/{day} does not exist"),
                },
            )?;
            let time = NaiveTime::from_hms_opt(hour as u32, minute as u32, 0).ok_or_else(|| {
                ArticleError::BadDate {
                    path: path_buf.clone(),
                    line: *footer_line,
                    what: format!("footer time {hour}:{minute:02} does not exist"),
                }
            })?;
            footer = Some((
                NaiveDateTime::new(date, time),
                number.to_string(),
                views,
                *footer_line,
            ));
            body_end = last;
        } else if FOOTERISH.is_match(footer_text) {
            return Err(ArticleError::BadFooter {
                path: path_buf,
                line: *footer_line,
            });
        }

        // Chrome, then the date line, then the title.
        let mut cursor = content.iter().copied().filter(|&i| i < body_end).peekable();
        while let Some(&i) = cursor.peek() {
            if is_chrome(lines[i].1) {
                cursor.next();
            } else {
                break;
            }
        }
        let mut date_line = None;
        if let Some(&i) = cursor.peek() {
            if let Some(date) = parse_date_line(lines[i].1) {
                let date = date.map_err(|what| ArticleError::BadDate {
                    path: path_buf.clone(),
                    line: lines[i].0,
                    what,
                })?;
                date_line = Some((date, lines[i].0));
                cursor.next();
            }
        }
        let Some(title_index) = cursor.next() else {
            let line = date_line
                .map(|(_, l)| l + 1)
                .or(footer.as_ref().map(|f| f.3))
                .unwrap_or(1);
            return Err(ArticleError::NoTitle {
                path: path_buf,
                line,
            });
        };
        let title = collapse_spaces(lines[title_index].1);

        // Paragraphs: runs of non-empty lines, joined with a space.
        let mut paragraphs = Vec::new();
        let body = &lines[title_index + 1..body_end];
        let mut start = 0;
        while start < body.len() {
            if body[start].1.is_empty() {
                start += 1;
                continue;
            }
            let end = body[start..]
                .iter()
                .position(|(_, line)| line.is_empty())
                .map_or(body.len(), |n| start + n);
            let run = &body[start..end];
            let len = run.iter().map(|(_, line)| line.len() + 1).sum::<usize>() - 1;
            let mut paragraph = String::with_capacity(len);
            for (n, (_, line)) in run.iter().enumerate() {
                if n > 0 {
                    paragraph.push(' ');
                }
                paragraph.push_str(line);
            }
            paragraphs.push(paragraph);
            start = end;
        }

        let (published, id, views) = match (&footer, date_line) {
            (Some((when, number, views, line)), date_line) => {
                if let Some((date, date_line_no)) = date_line {
                    if date != when.date() {
                        warnings.push(Diagnostic {
                            path: path_buf.clone(),
                            line: Some(date_line_no),
                            message: format!(
                                "date line says {date} but the footer (line {line}) says {}; using the footer",
                                when.date()
                            ),
                        });
                    }
                }
                (*when, number.clone(), *views)
            }
            (None, Some((date, _))) => (date.and_time(NaiveTime::MIN), file_stem(path), None),
            (None, None) => return Err(ArticleError::NoDate { path: path_buf }),
        };
        if id.is_empty() {
            return Err(ArticleError::NoDate { path: path_buf });
        }

        Ok(Parsed {
            article: Article {
                id,
                path: path_buf,
                title,
                published,
                paragraphs,
                views,
                offset: None,
                html: None,
                summary: None,
                tags: Vec::new(),
                author: None,
                draft: false,
            },
            warnings,
        })
    }
}

/// Splits `text` into lines (LF or CRLF) and removes the characters XML 1.0 forbids, with a
/// warning naming the line; stray carriage returns (and tabs, if asked) become spaces.
///
/// A line that needs no change is borrowed from `text`; only repaired lines are allocated.
pub fn clean_lines<'a>(
    path: &Path,
    text: &'a str,
    tabs_to_spaces: bool,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Cow<'a, str>> {
    let bytes = text.as_bytes();
    // Usually no line needs repair, and one scan of the whole text shows it.
    let all_clean = !bytes.chunks(32).any(|chunk| {
        chunk.iter().fold(false, |found, &b| {
            found | ((b < 0x20) & (b != b'\n')) | (b == 0xEF)
        })
    });
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', bytes).count() + 1);
    let ends = memchr::memchr_iter(b'\n', bytes).chain([bytes.len()]);
    let mut start = 0;
    for (index, end) in ends.enumerate() {
        let raw = &text[start..end];
        start = end + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if all_clean || is_clean_line(raw.as_bytes(), tabs_to_spaces) {
            lines.push(Cow::Borrowed(raw));
            continue;
        }
        let mut removed = 0usize;
        let cleaned: String = raw
            .chars()
            .filter_map(|c| {
                if c == '\r' || (c == '\t' && tabs_to_spaces) {
                    Some(' ')
                } else if is_xml_char(c) {
                    Some(c)
                } else {
                    removed += 1;
                    None
                }
            })
            .collect();
        if removed > 0 {
            warnings.push(Diagnostic {
                path: path.to_path_buf(),
                line: Some(index + 1),
                message: format!("removed {removed} character(s) that XML 1.0 forbids"),
            });
        }
        lines.push(Cow::Owned(cleaned));
    }
    lines
}

/// True when [`clean_lines`] would keep `line` as it is: it holds no control character
/// (other than a tab that is kept) and neither U+FFFE nor U+FFFF.
fn is_clean_line(line: &[u8], tabs_to_spaces: bool) -> bool {
    let keep_tabs = !tabs_to_spaces;
    if !has_byte_below_space_or_ef(line) {
        return true;
    }
    line.iter().enumerate().all(|(i, &b)| {
        if b < 0x20 {
            b == b'\t' && keep_tabs
        } else {
            !is_noncharacter_at(line, i)
        }
    })
}

/// True when any byte is a control character (below 0x20) or 0xEF, the lead byte of
/// U+FFFE and U+FFFF. Written as a branch-free fold over chunks so that it vectorizes.
fn has_byte_below_space_or_ef(bytes: &[u8]) -> bool {
    bytes.chunks(32).any(|chunk| {
        chunk
            .iter()
            .fold(false, |found, &b| found | (b < 0x20) | (b == 0xEF))
    })
}

/// True when the UTF-8 of U+FFFE or U+FFFF starts at `bytes[i]`.
fn is_noncharacter_at(bytes: &[u8], i: usize) -> bool {
    matches!(bytes[i..], [0xEF, 0xBF, 0xBE | 0xBF, ..])
}

/// True when `s` holds a character that XML 1.0 forbids: the same as
/// `!s.chars().all(is_xml_char)`, read byte-wise (a `str` cannot hold surrogates).
fn has_forbidden_character(s: &str) -> bool {
    let bytes = s.as_bytes();
    has_byte_below_space_or_ef(bytes)
        && bytes.iter().enumerate().any(|(i, &b)| {
            (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || is_noncharacter_at(bytes, i)
        })
}

/// True for the characters that XML 1.0 allows in a document (§2.2, `Char`).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Removes the characters XML 1.0 forbids from every text field of a parsed article, with
/// one warning. Lines are cleaned before parsing, but Markdown can still produce such
/// characters from escapes (`\u0001` in TOML, `\x01` in YAML front matter) and character
/// references (`&#1;`), and one of them would make every feed ill-formed.
///
/// With `from_clean_lines` (a text article), the title and the paragraphs are made of lines
/// that [`clean_lines`] already cleaned, and are not scanned again.
fn remove_forbidden_characters(
    parsed: &mut Parsed,
    text: &str,
    from_clean_lines: bool,
) -> Result<(), ArticleError> {
    let article = &mut parsed.article;
    let mut removed = 0usize;
    let mut clean = |s: &mut String| {
        if has_forbidden_character(s) {
            let before = s.chars().count();
            s.retain(is_xml_char);
            removed += before - s.chars().count();
        }
    };
    if !from_clean_lines {
        clean(&mut article.title);
        article.paragraphs.iter_mut().for_each(&mut clean);
    }
    clean(&mut article.id);
    article.tags.iter_mut().for_each(&mut clean);
    article.html.iter_mut().for_each(&mut clean);
    article.summary.iter_mut().for_each(&mut clean);
    article.author.iter_mut().for_each(&mut clean);
    if removed == 0 {
        return Ok(());
    }
    let path = &article.path;
    parsed.warnings.push(Diagnostic {
        path: path.clone(),
        line: None,
        message: format!(
            "removed {removed} character(s) that XML 1.0 forbids (written as escapes or character references)"
        ),
    });
    article.title = collapse_spaces(&article.title);
    if article.title.is_empty() {
        let line = 1 + text.lines().position(|l| !l.trim().is_empty()).unwrap_or(0);
        return Err(ArticleError::NoTitle {
            path: path.clone(),
            line,
        });
    }
    if article.id.trim().is_empty() {
        article.id = file_stem(path);
    }
    article.tags.retain(|t| !t.trim().is_empty());
    article.summary = article.summary.take().filter(|s| !s.trim().is_empty());
    article.author = article.author.take().filter(|a| !a.trim().is_empty());
    Ok(())
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `line.trim()`, at once when the line starts and ends with visible ASCII.
fn trim(line: &str) -> &str {
    match line.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => line,
        _ => line.trim(),
    }
}

/// The words of `text` (split at Unicode white space) joined by single spaces.
fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A line of page chrome: every part between runs of spaces is a known chrome label.
///
/// Parts are split at two ASCII spaces in a row and at no-break spaces; `line` is trimmed,
/// so the parts are the words of the line grouped at every gap of white space that holds
/// either.
fn is_chrome(line: &str) -> bool {
    // Every label starts with one of these letters, and so does the first part.
    if !matches!(
        line.as_bytes().first().map(u8::to_ascii_lowercase),
        Some(b'p' | b's' | b'e' | b'b')
    ) {
        return false;
    }
    let is_label = |part: &str| {
        CHROME_LABELS.iter().any(|label| {
            let mut words = part.split_whitespace();
            label
                .split(' ')
                .all(|l| words.next().is_some_and(|w| w.eq_ignore_ascii_case(l)))
                && words.next().is_none()
        })
    };
    let mut part_start = 0;
    let mut previous_end = 0;
    let mut any = false;
    for word in line.split_whitespace() {
        let start = word.as_ptr() as usize - line.as_ptr() as usize;
        let gap = &line.as_bytes()[previous_end..start];
        if gap
            .windows(2)
            .any(|w| w == b"  " || w == "\u{a0}".as_bytes())
        {
            if !is_label(&line[part_start..previous_end]) {
                return false;
            }
            part_start = start;
        }
        previous_end = start + word.len();
        any = true;
    }
    any && is_label(&line[part_start..previous_end])
}

/// `Some(Ok(date))` for a valid date line, `Some(Err(..))` for a date line naming a day
/// that does not exist, `None` when the line is not a date line at all.
///
/// A date line is, once white space is collapsed, `D Month YYYY`: a day of one or two
/// digits, a month name or its abbreviation of at least three letters (any case, an
/// optional `.` then an optional `,` after it) and a four-digit year.
fn parse_date_line(line: &str) -> Option<Result<NaiveDate, String>> {
    let mut words = line.split_whitespace();
    let (day, month, year) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&day.len()) || !all_digits(day) || year.len() != 4 || !all_digits(year) {
        return None;
    }
    let month = month.strip_suffix(',').unwrap_or(month);
    let month = month.strip_suffix('.').unwrap_or(month);
    if !(3..=9).contains(&month.len()) || !month.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let month = MONTHS.iter().position(|m| {
        m.len() >= month.len() && m.as_bytes()[..month.len()].eq_ignore_ascii_case(month.as_bytes())
    })? + 1;
    let day: u32 = day.parse().ok()?;
    let year: i32 = year.parse().ok()?;
    Some(
        NaiveDate::from_ymd_opt(year, month as u32, day).ok_or_else(|| {
            format!(
                "date line `{}` names a day that does not exist",
                collapse_spaces(line)
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Parsed, ArticleError> {
        Article::parse(Path::new("a/017_x.txt"), text)
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn full_article() {
        let p = parse("Print \u{a0}\u{a0} Send to Friend\n\n12 May 2018\n\nTitle here\n\nOne.\n\nTwo “x”.\n\n12:55 - 2018/05/12    /    number : 26462    /    Show Count : 569").unwrap();
        let a = p.article;
        assert_eq!(a.id, "26462");
        assert_eq!(a.title, "Title here");
        assert_eq!(a.published, at(2018, 5, 12, 12, 55));
        assert_eq!(a.paragraphs, vec!["One.", "Two “x”."]);
        assert_eq!(a.views, Some(569));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn footer_variants() {
        for footer in [
            "7:05 - 2019/3/9 / number : 12 / Show Count : 3",
            "07 :05-2019 / 03/09  /number:12/  Show Count:3",
            "7:05 - 2019/3/9\u{a0}/ Number : 12 / show count : 3",
            "7:05 - 2019/3/9 / number : 12",
        ] {
            let a = parse(&format!("T\n\nBody\n\n{footer}\n")).unwrap().article;
            assert_eq!(a.published, at(2019, 3, 9, 7, 5), "{footer}");
            assert_eq!(a.id, "12");
        }
    }

    #[test]
    fn date_line_only_gives_midnight_and_file_stem_identity() {
        let a = parse("3 Sep 2019\nTitle\n\nBody").unwrap().article;
        assert_eq!(a.published, at(2019, 9, 3, 0, 0));
        assert_eq!(a.id, "017_x");
        assert_eq!(a.views, None);
        let a = parse("1 September 2020\nTitle").unwrap().article;
        assert_eq!(a.published, at(2020, 9, 1, 0, 0));
        assert!(a.paragraphs.is_empty());
    }

    #[test]
    fn crlf_and_bom_and_nbsp() {
        let a = parse("\u{feff}Print  Send to Friend\r\n\r\n\u{a0}12 May 2018 \r\n Title \u{a0}\r\n\r\nBody\r\n\r\n12:55 - 2018/05/12 / number : 1 / Show Count : 2\r\n")
            .unwrap()
            .article;
        assert_eq!(a.title, "Title");
        assert_eq!(a.paragraphs, vec!["Body"]);
    }

    #[test]
    fn wrapped_paragraph_is_joined() {
        let a = parse("1 May 2020\nT\n\nfirst half\nsecond half\n\nnext")
            .unwrap()
            .article;
        assert_eq!(a.paragraphs, vec!["first half second half", "next"]);
    }

    #[test]
    fn forbidden_characters_are_removed_with_line() {
        let p = parse("1 May 2020\nT\u{1}itle\n\nB\u{8}o\u{b}dy\u{fffe}\tend").unwrap();
        assert_eq!(p.article.title, "Title");
        assert_eq!(p.article.paragraphs, vec!["Body end"]);
        let lines: Vec<_> = p.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![Some(2), Some(4)]);
    }

    #[test]
    fn windows_1252_is_decoded_with_warning() {
        let p = Article::from_bytes(Path::new("w.txt"), b"1 May 2020\nCaf\xe9 \x93quoted\x94\n")
            .unwrap();
        assert_eq!(p.article.title, "Café “quoted”");
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].line, Some(2));
    }

    #[test]
    fn rejections() {
        assert!(matches!(parse(""), Err(ArticleError::Empty { .. })));
        assert!(matches!(
            parse(" \n\u{a0}\n"),
            Err(ArticleError::Empty { .. })
        ));
        assert!(matches!(
            Article::from_bytes(Path::new("b"), b"x\ny\0z"),
            Err(ArticleError::Binary { line: 2, .. })
        ));
        assert!(matches!(
            parse("Title\n\nBody"),
            Err(ArticleError::NoDate { .. })
        ));
        assert!(matches!(
            parse("Print  Send to Friend\n12 May 2018\n\n12:55 - 2018/05/12 / number : 1 / Show Count : 2"),
            Err(ArticleError::NoTitle { line: 3, .. })
        ));
        assert!(matches!(
            parse("31 Feb 2018\nT"),
            Err(ArticleError::BadDate { line: 1, .. })
        ));
        assert!(matches!(
            parse("T\n\n25:61 - 2018/05/12 / number : 1 / Show Count : 2"),
            Err(ArticleError::BadDate { line: 3, .. })
        ));
        assert!(matches!(
            parse("T\n\n12:55 - 2018/05/12 / numero : 12 / Show Count : 2"),
            Err(ArticleError::BadFooter { line: 3, .. })
        ));
        assert!(matches!(
            parse("T\n\n12:55 - 2018/05/12 / number : x12 / Show Count : 2"),
            Err(ArticleError::BadFooter { line: 3, .. })
        ));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("Print  Send to Friend\n12 May 2018\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a/017_x.txt:3: no title: expected a title line here"
        );
    }

    #[test]
    fn footer_date_wins_over_date_line_with_warning() {
        let p =
            parse("11 May 2018\nT\n\n12:55 - 2018/05/12 / number : 1 / Show Count : 2").unwrap();
        assert_eq!(p.article.published, at(2018, 5, 12, 12, 55));
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn chrome_detection() {
        assert!(is_chrome("Print\u{a0}\u{a0} \u{a0} Send to Friend"));
        assert!(is_chrome("Print"));
        assert!(!is_chrome("Print shops raided in Tehran"));
    }
}
