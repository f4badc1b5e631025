//! The command line describes what it does: every format and every kind of page.

mod common;

use common::process::{feedpub, Run};

fn help(subcommand: &str) -> String {
    let run = Run::of(feedpub(std::env::temp_dir().as_path()).args([subcommand, "--help"]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    run.stdout
}

#[test]
fn build_and_serve_help_name_every_feed_and_page() {
    for subcommand in ["build", "serve"] {
        let text = help(subcommand);
        for needle in [
            "rss.xml",
            "atom.xml",
            "feed.json",
            "tags/",
            "archive/",
            "articles/",
        ] {
            assert!(
                text.contains(needle),
                "`{subcommand} --help` names {needle}:\n{text}"
            );
        }
    }
    assert!(help("check").contains("FILE:LINE"));
}
