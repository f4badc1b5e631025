//! The committed `feeds/` must be exactly what `feedpub build` makes of `seeds/` with the
//! repository's `feedpub.toml`: the same files (feeds, tag feeds, index, article pages),
//! byte for byte.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::*;

const STALE: &str = "feeds/ is stale: run `cargo run -- build` and review the diff";

/// Runs `feedpub SUBCOMMAND` in `cwd` on the repository's configuration and seeds, into
/// `out` when given.
fn run(cwd: &Path, subcommand: &str, out: Option<&Path>) -> Run {
    let mut command = feedpub(cwd);
    command
        .arg(subcommand)
        .arg("--config")
        .arg(repo("feedpub.toml"))
        .arg("--articles")
        .arg(repo("seeds"));
    if let Some(out) = out {
        command.arg("--out").arg(out);
    }
    Run::of(&mut command)
}

#[test]
fn committed_feeds_are_exactly_what_build_makes_of_the_seeds() {
    let workspace = Workspace::new();
    let out = workspace.path("out");
    let build = run(workspace.root(), "build", Some(&out));
    assert_eq!(build.code, 0, "{build:?}");

    let built_files = files_under(&out);
    // What `serve` saves of the articles for its next start (git-ignored, not a file of the
    // site): the README's main job, `serve` on the repository, leaves it in feeds/.
    let committed_files: BTreeSet<String> = files_under(&repo("feeds"))
        .into_iter()
        .filter(|name| !name.starts_with(feedpub::loader::SAVED_ARTICLES))
        .collect();
    assert_eq!(
        committed_files, built_files,
        "{STALE} (the committed files are not the files build writes)"
    );
    assert!(built_files.iter().any(|f| f == "index.html"));
    assert!(built_files.iter().any(|f| f.starts_with("articles/")));
    for name in &built_files {
        let built = fs::read(out.join(name)).unwrap_or_else(|e| panic!("built {name}: {e}"));
        let committed = fs::read(repo("feeds").join(name))
            .unwrap_or_else(|e| panic!("{STALE} (feeds/{name}: {e})"));
        if built != committed {
            panic!(
                "{STALE} (feeds/{name} differs; {})",
                first_difference(("built", &built), ("committed", &committed))
            );
        }
    }
}

#[test]
fn seeds_give_at_least_sixteen_items_and_no_rejected_file() {
    let workspace = Workspace::new();
    let check = run(workspace.root(), "check", None);
    assert_eq!(check.code, 0, "check rejects a seed: {check:?}");

    let out = workspace.path("out");
    let build = run(workspace.root(), "build", Some(&out));
    assert_eq!(build.code, 0, "{build:?}");
    assert!(
        !build.stderr.contains("rejected"),
        "build rejects a seed: {build:?}"
    );

    let rss = check_feed("rss.xml", &fs::read(out.join("rss.xml")).expect("rss.xml"));
    let atom = check_feed(
        "atom.xml",
        &fs::read(out.join("atom.xml")).expect("atom.xml"),
    );
    for (format, feed) in [("RSS", &rss), ("Atom", &atom)] {
        assert!(
            feed.entries.len() >= 16,
            "only {} {format} items",
            feed.entries.len()
        );
    }
    assert_same_items(&rss, &atom, None);
}
