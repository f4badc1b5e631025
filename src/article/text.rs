//! Line and character rules shared by both article formats: splitting lines, removing the
//! characters XML 1.0 forbids, collapsing white space.

use std::borrow::Cow;
use std::path::Path;

use super::{ArticleError, Diagnostic, Parsed};

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
pub fn remove_forbidden_characters(
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
    if let Some(extra) = article.extra.as_deref_mut() {
        extra.tags.iter_mut().for_each(&mut clean);
        extra.html.iter_mut().for_each(&mut clean);
        extra.summary.iter_mut().for_each(&mut clean);
        extra.author.iter_mut().for_each(&mut clean);
    }
    if removed == 0 {
        return Ok(());
    }
    let path = &article.path;
    parsed.warnings.push(Diagnostic {
        path: path.to_path_buf(),
        line: None,
        message: format!(
            "removed {removed} character(s) that XML 1.0 forbids (written as escapes or character references)"
        ),
    });
    article.title = collapse_spaces(&article.title);
    if article.title.is_empty() {
        let line = 1 + text.lines().position(|l| !l.trim().is_empty()).unwrap_or(0);
        return Err(ArticleError::NoTitle {
            path: path.to_path_buf(),
            line,
        });
    }
    if article.id.trim().is_empty() {
        article.id = file_stem(path);
    }
    if let Some(extra) = article.extra.as_deref_mut() {
        extra.tags.retain(|t| !t.trim().is_empty());
        extra.summary = extra.summary.take().filter(|s| !s.trim().is_empty());
        extra.author = extra.author.take().filter(|a| !a.trim().is_empty());
    }
    Ok(())
}

/// The file name without its extension: the identity of an article that names none.
pub fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The words of `text` (split at Unicode white space) joined by single spaces.
pub fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
