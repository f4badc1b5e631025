//! HTML text: escaping, paragraphs, and making the links of rendered Markdown absolute.

/// Escapes text for HTML and XML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The paragraphs as `<p>` elements, one per line.
pub fn paragraphs_html(paragraphs: &[String]) -> String {
    paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape_html(p)))
        .collect::<Vec<_>>()
        .join("\n")
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
    }
}
