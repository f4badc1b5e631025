//! The scraped news page format, in order: optional page chrome (`Print   Send to Friend`),
//! an optional date line (`12 May 2018`), the title, body paragraphs separated by blank
//! lines, and an optional footer `12:55 - 2018/05/12 / number : 26462 / Show Count : 569`.
//!
//! [`parse`] reads it in named steps: the lines (cleaned and trimmed), the footer (the last
//! non-empty line), the head (chrome, date line, title), the paragraphs, then the identity
//! and publication time from whichever of footer and date line there is.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use regex::Regex;

use super::text::{clean_lines, collapse_spaces, file_stem};
use super::{Article, ArticleError, Diagnostic, Parsed, TextPlace};

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

/// The lines of a file, cleaned and trimmed, each with its 1-based line number.
struct Lines<'a> {
    lines: Vec<(usize, &'a str)>,
    /// Indexes of the non-empty lines.
    content: Vec<usize>,
}

/// A footer that was read: when, which article, how many views, on which line.
struct Footer {
    published: NaiveDateTime,
    number: u64,
    views: Option<u64>,
    line: usize,
}

/// What precedes the body: the date line (with its line number), and the title's index.
struct Head {
    date_line: Option<(NaiveDate, usize)>,
    title: usize,
}

/// Parses the text of a scraped article file. `path` names the file in messages and gives
/// the identity of an article without a footer.
pub fn parse(path: &Path, text: &str) -> Result<Parsed, ArticleError> {
    let mut warnings = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Line `i` is line `i + 1` of the file.
    let cleaned = clean_lines(path, text, true, &mut warnings);
    let lines: Vec<(usize, &str)> = cleaned
        .iter()
        .enumerate()
        .map(|(index, line)| (index + 1, trim(line)))
        .collect();
    let content = (0..lines.len())
        .filter(|&i| !lines[i].1.is_empty())
        .collect();
    let lines = Lines { lines, content };
    let Some(&last) = lines.content.last() else {
        return Err(ArticleError::Empty {
            path: path.to_path_buf(),
        });
    };
    let footer = footer_of(path, lines.lines[last])?;
    let body_end = if footer.is_some() {
        last
    } else {
        lines.lines.len()
    };
    let head = head_of(path, &lines, body_end, footer.as_ref())?;
    let title = collapse_spaces(lines.lines[head.title].1);
    let paragraphs = paragraphs_of(&lines.lines[head.title + 1..body_end]);
    let (published, id, views) = identity_and_time(path, footer, head.date_line, &mut warnings)?;
    Ok(Parsed {
        article: Article {
            id,
            path: path.into(),
            title,
            published,
            paragraphs,
            views,
            draft: false,
            detected: None,
            text: TextPlace::Held,
            extra: None,
        },
        warnings,
    })
}

/// Reads the last non-empty line as a footer: `None` when it is body text, an error when it
/// is meant as a footer but cannot be read or names a time that does not exist.
fn footer_of(path: &Path, (line, text): (usize, &str)) -> Result<Option<Footer>, ArticleError> {
    let Some(caps) = footer_captures(text) else {
        if FOOTERISH.is_match(text) {
            return Err(ArticleError::BadFooter {
                path: path.to_path_buf(),
                line,
            });
        }
        return Ok(None);
    };
    let bad_footer = || ArticleError::BadFooter {
        path: path.to_path_buf(),
        line,
    };
    let num = |i: usize| caps[i - 1].map(str::parse::<u64>);
    let field = |i: usize| match num(i) {
        Some(Ok(v)) => Ok(v),
        _ => Err(bad_footer()),
    };
    let (hour, minute, year, month, day) = (field(1)?, field(2)?, field(3)?, field(4)?, field(5)?);
    let number = field(6)?;
    let views = match num(7) {
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return Err(bad_footer()),
        None => None,
    };
    let bad_date = |what: String| ArticleError::BadDate {
        path: path.to_path_buf(),
        line,
        what,
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)
        .ok_or_else(|| bad_date(format!("footer date {year}/{month}/{day} does not exist")))?;
    let time = NaiveTime::from_hms_opt(hour as u32, minute as u32, 0)
        .ok_or_else(|| bad_date(format!("footer time {hour}:{minute:02} does not exist")))?;
    Ok(Some(Footer {
        published: NaiveDateTime::new(date, time),
        number,
        views,
        line,
    }))
}

/// Skips the chrome, reads the date line if there is one, and finds the title, among the
/// non-empty lines before `body_end`.
fn head_of(
    path: &Path,
    lines: &Lines,
    body_end: usize,
    footer: Option<&Footer>,
) -> Result<Head, ArticleError> {
    let mut cursor = lines
        .content
        .iter()
        .copied()
        .filter(|&i| i < body_end)
        .skip_while(|&i| is_chrome(lines.lines[i].1))
        .peekable();
    let mut date_line = None;
    if let Some(&i) = cursor.peek() {
        let (number, text) = lines.lines[i];
        if let Some(date) = parse_date_line(text) {
            let date = date.map_err(|what| ArticleError::BadDate {
                path: path.to_path_buf(),
                line: number,
                what,
            })?;
            date_line = Some((date, number));
            cursor.next();
        }
    }
    match cursor.next() {
        Some(title) => Ok(Head { date_line, title }),
        None => Err(ArticleError::NoTitle {
            path: path.to_path_buf(),
            line: date_line
                .map(|(_, l)| l + 1)
                .or(footer.map(|f| f.line))
                .unwrap_or(1),
        }),
    }
}

/// The paragraphs of `body`: runs of non-empty lines, joined with a space.
fn paragraphs_of(body: &[(usize, &str)]) -> Vec<String> {
    let mut paragraphs = Vec::new();
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
    paragraphs
}

/// The publication time, identity and view count: from the footer when there is one (with
/// a warning when the date line disagrees), else the date line at midnight and the file
/// name.
fn identity_and_time(
    path: &Path,
    footer: Option<Footer>,
    date_line: Option<(NaiveDate, usize)>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(NaiveDateTime, String, Option<u64>), ArticleError> {
    let no_date = || ArticleError::NoDate {
        path: PathBuf::from(path),
    };
    let (published, id, views) = match (footer, date_line) {
        (Some(footer), date_line) => {
            if let Some((date, date_line_no)) = date_line {
                if date != footer.published.date() {
                    warnings.push(Diagnostic {
                        path: path.to_path_buf(),
                        line: Some(date_line_no),
                        message: format!(
                            "date line says {date} but the footer (line {}) says {}; using the footer",
                            footer.line,
                            footer.published.date()
                        ),
                    });
                }
            }
            (footer.published, footer.number.to_string(), footer.views)
        }
        (None, Some((date, _))) => (date.and_time(NaiveTime::MIN), file_stem(path), None),
        (None, None) => return Err(no_date()),
    };
    if id.is_empty() {
        return Err(no_date());
    }
    Ok((published, id, views))
}

/// `line.trim()`, at once when the line starts and ends with visible ASCII.
fn trim(line: &str) -> &str {
    match line.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => line,
        _ => line.trim(),
    }
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
    /// The regular expression's reading of `line`, whatever its characters.
    fn by_regex(line: &str) -> Option<[Option<&str>; 7]> {
        let caps = FOOTER.captures(line)?;
        let mut groups = [None; 7];
        for (i, group) in groups.iter_mut().enumerate() {
            *group = caps.get(i + 1).map(|m| m.as_str());
        }
        Some(groups)
    }

    /// Every line of every fixture and fuzz input that the hand-written reader takes: both
    /// readings of the footer grammar agree on it.
    #[test]
    fn footer_reader_agrees_with_the_footer_pattern_on_every_fixture_line() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut folders = vec![root.join("tests/fixtures"), root.join("seeds")];
        let mut lines = 0;
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                for line in text.lines().map(str::trim) {
                    if line.chars().all(|c| c.is_ascii() || c.is_whitespace()) {
                        lines += 1;
                        assert_eq!(
                            read_footer(line),
                            by_regex(line),
                            "{}: {line:?}",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(lines > 1000, "the fixtures were read ({lines} lines)");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, failure_persistence: None, ..Default::default() })]

        /// Footer-shaped lines with any spacing, digits, case and stray characters: the
        /// reader and the pattern agree.
        #[test]
        fn footer_reader_agrees_with_the_footer_pattern(
            line in r"[0-9]{0,3}[ \u{a0}\t]{0,2}:[ ]{0,2}[0-9]{1,3} ?- ?[0-9]{3,5} ?/ ?[0-9]{1,3}/[0-9]{1,3} ?/ ?(number|NUMBER|numbr) ?: ?[0-9]{0,20}( ?/ ?(show count|Show  Count|showcount) ?: ?[0-9]{0,20})?[ x/]{0,2}"
        ) {
            proptest::prop_assert_eq!(read_footer(&line), by_regex(&line));
        }
    }

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
