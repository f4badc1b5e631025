//! `feedpub build` shows a progress bar when its error output is a terminal, and stays
//! quiet (no bar, no terminal escapes) when it is a file or a pipe.

mod common;

use std::process::Command;

use chrono::NaiveDate;
use common::*;

/// A workspace with `n` articles and a configuration that writes feeds beside them.
fn corpus(n: u64) -> Workspace {
    let workspace = Workspace::with_config("articles = \"articles\"\noutput = \"feeds\"\n");
    let day = NaiveDate::from_ymd_opt(2020, 5, 1).unwrap();
    for i in 1..=n {
        let when = day.and_hms_opt(8, 0, 0).unwrap() + chrono::Duration::minutes(i as i64);
        let paragraphs = vec![format!("Paragraph of story {i}. ").repeat(20)];
        workspace.write_article(
            &format!("{i:05}.txt"),
            &article_text(i, &format!("Story {i}"), when, &paragraphs),
        );
    }
    workspace
}

#[test]
fn build_shows_progress_on_a_terminal_only() {
    let workspace = corpus(2000);

    // Not a terminal: stderr is a pipe.
    let piped = feedpub(workspace.root()).arg("build").output().unwrap();
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
        .current_dir(workspace.root())
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
