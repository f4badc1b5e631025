//! `feedpub build` shows a progress bar when its error output is a terminal, and stays
//! quiet (no bar, no terminal escapes) when it is a file or a pipe.

mod common;

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use common::article_text;

const BIN: &str = env!("CARGO_BIN_EXE_feedpub");

/// A folder of `n` articles and a configuration that writes feeds beside it.
fn corpus(dir: &Path, n: u64) {
    let articles = dir.join("articles");
    std::fs::create_dir(&articles).unwrap();
    let day = NaiveDate::from_ymd_opt(2020, 5, 1).unwrap();
    for i in 1..=n {
        let when = day.and_hms_opt(8, 0, 0).unwrap() + chrono::Duration::minutes(i as i64);
        let paragraphs = vec![format!("Paragraph of story {i}. ").repeat(20)];
        std::fs::write(
            articles.join(format!("{i:05}.txt")),
            article_text(i, &format!("Story {i}"), when, &paragraphs),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("feedpub.toml"),
        "articles = \"articles\"\noutput = \"feeds\"\n",
    )
    .unwrap();
}

#[test]
fn build_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path(), 2000);

    // Not a terminal: stderr is a pipe.
    let piped = Command::new(BIN)
        .arg("build")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains("loading") && !stderr.contains('\u{1b}'),
        "no progress bar in a pipe: {stderr:?}"
    );
    assert!(String::from_utf8_lossy(&piped.stdout).contains("published 2000 article(s)"));

    // A terminal: `script` runs the build on a pseudo-terminal and copies what it shows.
    let shown = Command::new("script")
        .args(["-q", "-e", "-c", &format!("{BIN} build"), "/dev/null"])
        .current_dir(dir.path())
        .output()
        .expect("`script` (util-linux) runs a command on a pseudo-terminal");
    assert!(shown.status.success());
    let screen = String::from_utf8_lossy(&shown.stdout);
    assert!(
        screen.contains("loading") && screen.contains("/2000 files"),
        "a progress bar on a terminal: {screen:?}"
    );
    assert!(screen.contains("published 2000 article(s)"));
}
