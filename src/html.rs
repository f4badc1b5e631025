//! HTML text: escaping, paragraphs, and making the links of rendered Markdown absolute.

/// Escapes text for HTML and XML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    escape_html_into(&mut out, text);
    out
}

/// [`escape_html`], appended to `out`. The characters escaped are ASCII, so the text is
/// scanned as bytes and copied a run at a time between them (every page of an archive is
/// made of escaped text: a character at a time, this was a fifth of a page's cost).
pub fn escape_html_into(out: &mut String, text: &str) {
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // `at` is an ASCII byte's index: a character boundary.
        out.push_str(&text[run..at]);
        out.push_str(escaped);
        run = at + 1;
    }
    out.push_str(&text[run..]);
}

/// The paragraphs as `<p>` elements, one per line.
pub fn paragraphs_html(paragraphs: &[String]) -> String {
    let length: usize = paragraphs.iter().map(|p| p.len() + 8).sum();
    let mut out = String::with_capacity(length + length / 8);
    for (n, paragraph) in paragraphs.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str("<p>");
        escape_html_into(&mut out, paragraph);
        out.push_str("</p>");
    }
    out
}

/// Makes the relative links and images of rendered Markdown `html` absolute against
/// `site_url`: `href="x"` and `src="x"` that have no scheme and are not fragments.
pub fn absolutize(html: &str, site_url: &str) -> String {
    let origin = site_url
        .find("://")
        .and_then(|i| site_url[i + 3..].find('/').map(|j| &site_url[..i + 3 + j]))
        .unwrap_or(site_url);
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find([' ', '\n']).filter(|_| !rest.is_empty()) {
        let (before, after) = rest.split_at(i + 1);
        out.push_str(before);
        rest = after;
        for attr in ["href=\"", "src=\""] {
            if let Some(value_start) = rest.strip_prefix(attr) {
                let end = value_start.find('"').unwrap_or(value_start.len());
                let url = &value_start[..end];
                let has_scheme = url.split_once(':').is_some_and(|(scheme, _)| {
                    !scheme.is_empty()
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                });
                let absolute = if has_scheme
                    || url.starts_with('#')
                    || url.starts_with("//")
                    || url.is_empty()
                {
                    url.to_string()
                } else if url.starts_with('/') {
                    format!("{origin}{url}")
                } else {
                    format!("{site_url}/{}", url.trim_start_matches("./"))
                };
                out.push_str(attr);
                out.push_str(&absolute);
                rest = &value_start[end..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            paragraphs_html(&["a < b & \"c\"".into()]),
            "<p>a &lt; b &amp; &quot;c&quot;</p>"
        );
        assert_eq!(
            paragraphs_html(&["x".into(), "y".into()]),
            "<p>x</p>\n<p>y</p>"
        );
        assert_eq!(paragraphs_html(&[]), "");
    }

    /// Escaping a character at a time, as the definition reads.
    fn escaped_by_character(text: &str) -> String {
        text.chars()
            .map(|c| match c {
                '&' => "&amp;".to_string(),
                '<' => "&lt;".to_string(),
                '>' => "&gt;".to_string(),
                '"' => "&quot;".to_string(),
                '\'' => "&#39;".to_string(),
                c => c.to_string(),
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn escaping_by_runs_equals_escaping_each_character(text in "(?s).{0,64}|[<>&\"'a\u{06cc}\u{1F600}]{0,16}") {
            proptest::prop_assert_eq!(escape_html(&text), escaped_by_character(&text));
        }
    }
}
