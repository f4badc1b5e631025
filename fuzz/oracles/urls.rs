//! The contract of the request-path parser (`feedpub::urls::Route::parse`) and the path
//! builders, checked by the `urls` fuzz target and by `tests/fuzz_replay.rs` over every kept
//! input:
//!
//! - any path names a route or nothing, never a panic;
//! - round trip: a route that has a path (`Route::path`) parses back from it, and that path
//!   is its own canonical form; a route's file in the output folder (`Route::file`) stays in
//!   the folder;
//! - the builders' paths parse to their routes: the tag feeds of the input as a tag, the
//!   language feeds, the archive and history pages and the article page of the input as an
//!   id, and the page numbers the input spells.

use feedpub::urls::{
    archive_path, article_path, history_path, language_feed_path, tag_feed_path, tag_slug, Format,
    Route,
};

/// Checks the contract for `data` read as a request path, and as a tag, a language and an
/// article id; `Err` says what broke.
pub fn check(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let route = Route::parse(&text);
    check_route(&text, &route)?;
    check_builders(&text)
}

fn check_route(path: &str, route: &Route) -> Result<(), String> {
    match route {
        Route::Tag(slug, _) if slug.is_empty() => {
            return Err(format!("{path:?}: a tag without a name"))
        }
        Route::Article(id) | Route::OldArticle(id) if id.is_empty() => {
            return Err(format!("{path:?}: an article without an id"))
        }
        Route::Archive(_, 0) | Route::History(0) => {
            return Err(format!("{path:?}: page 0 ({route:?})"))
        }
        _ => {}
    }
    if let Some(canonical) = route.path() {
        let again = Route::parse(&canonical);
        if again != *route {
            return Err(format!(
                "{path:?} is {route:?}, whose path {canonical:?} is {again:?}"
            ));
        }
        if again.path().as_deref() != Some(canonical.as_str()) {
            return Err(format!("{canonical:?} is not its own canonical path"));
        }
    }
    if let Some(file) = route.file() {
        let escapes = file.starts_with('/')
            || file.contains(['\\', '\0'])
            || file
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..");
        // A tag's folder is its slug as the site makes it, which only requests name
        // otherwise: those are answered from memory, never from a file.
        let made = match route {
            Route::Tag(slug, _) => tag_slug(slug) == *slug,
            _ => true,
        };
        if escapes && made {
            return Err(format!("{path:?}: {route:?} is the file {file:?}"));
        }
    }
    Ok(())
}

fn check_builders(text: &str) -> Result<(), String> {
    let expect = |path: String, want: Route| {
        let got = Route::parse(&path);
        if got == want {
            Ok(())
        } else {
            Err(format!("{path:?} is {got:?}, not {want:?}"))
        }
    };
    let slug = tag_slug(text);
    for format in Format::ALL {
        if !slug.is_empty() {
            expect(
                tag_feed_path(text, format),
                Route::Tag(slug.clone(), format),
            )?;
        }
    }
    if !text.is_empty() {
        expect(article_path(text), Route::Article(text.to_string()))?;
    }
    // Every tag an article or the configuration may name has feeds that can be requested.
    if let Ok(code) = feedpub::lang::normalize_tag(text) {
        for format in Format::ALL {
            expect(
                language_feed_path(&code, format),
                Route::Language(code.clone(), format),
            )?;
        }
    }
    let number = text
        .bytes()
        .fold(0usize, |n, b| {
            n.wrapping_mul(31).wrapping_add(usize::from(b))
        })
        .max(1);
    for format in Format::ARCHIVED {
        expect(archive_path(format, number), Route::Archive(format, number))?;
    }
    expect(history_path(number), Route::History(number))?;
    for route in [
        Route::Index,
        Route::Opml,
        Route::Health,
        Route::Stats,
        Route::StatsJson,
    ] {
        let path = route.path().unwrap_or_default();
        expect(path, route)?;
    }
    Ok(())
}
