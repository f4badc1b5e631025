//! The command line describes what it does: every format and every kind of page, in its
//! help and in the banner of `serve`.

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

#[test]
fn serve_banner_names_the_feeds_of_every_format_every_tag_and_the_history() {
    let workspace = common::workspace::Workspace::empty("max_items = 2\narchive_page_size = 2");
    for n in 1..=4u64 {
        workspace.write_article(
            &format!("{n}.txt"),
            &common::workspace::simple_article(n, &format!("Story {n}"), n as i64, "Body."),
        );
    }
    workspace.write_article(
        "road.md",
        "+++\ntitle = \"Road works\"\ndate = 2024-01-01T10:00:00Z\ntags = [\"City Hall\"]\n+++\nBody.\n",
    );
    let mut server =
        common::process::ServerProcess::spawn(common::process::serve_command(&workspace.config));
    let addr = server.wait_for_banner(common::wait::WAIT);
    let banner = server.stdout();
    for path in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/tags/city-hall/rss.xml",
        "/tags/city-hall/atom.xml",
        "/tags/city-hall/feed.json",
        "/archive/rss/1.xml",
        "/archive/atom/1.xml",
    ] {
        let url = format!("http://{addr}{path}");
        assert!(banner.contains(&url), "the banner names {url}:\n{banner}");
        assert_eq!(common::client::get(addr, path, &[]).status, 200, "{url}");
    }
}
