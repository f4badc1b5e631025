//! The committed `feeds/` must be exactly what `feedpub build` makes of `seeds/` with the
//! repository's `feedpub.toml`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_feedpub");
const STALE: &str = "feeds/ is stale: run `cargo run -- build` and review the diff";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn run(cwd: &Path, subcommand: &str, out: Option<&Path>) -> Output {
    let mut command = Command::new(BIN);
    command
        .current_dir(cwd)
        .arg(subcommand)
        .arg("--config")
        .arg(repo("feedpub.toml"))
        .arg("--articles")
        .arg(repo("seeds"));
    if let Some(out) = out {
        command.arg("--out").arg(out);
    }
    command.output().expect("the feedpub binary runs")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The first line where two documents differ, to point at the change.
fn first_difference(built: &[u8], committed: &[u8]) -> String {
    let built = String::from_utf8_lossy(built);
    let committed = String::from_utf8_lossy(committed);
    // The feeds are mostly on one long line: compare in characters around the first change.
    let at = built
        .chars()
        .zip(committed.chars())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| built.chars().count().min(committed.chars().count()));
    let around = |s: &str| -> String { s.chars().skip(at.saturating_sub(60)).take(160).collect() };
    format!(
        "first difference at character {at}\n  built:     {:?}\n  committed: {:?}",
        around(&built),
        around(&committed)
    )
}

#[test]
fn committed_feeds_are_exactly_what_build_makes_of_the_seeds() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = tmp.path().join("out");
    let output = run(tmp.path(), "build", Some(&out));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    for name in ["rss.xml", "atom.xml"] {
        let built = fs::read(out.join(name)).unwrap_or_else(|e| panic!("built {name}: {e}"));
        let committed = fs::read(repo("feeds").join(name))
            .unwrap_or_else(|e| panic!("{STALE} (feeds/{name}: {e})"));
        if built != committed {
            panic!(
                "{STALE} (feeds/{name} differs; {})",
                first_difference(&built, &committed)
            );
        }
    }
}

#[test]
fn seeds_give_at_least_sixteen_items_and_no_rejected_file() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let check = run(tmp.path(), "check", None);
    assert_eq!(
        check.status.code(),
        Some(0),
        "check rejects a seed: {}",
        describe(&check)
    );

    let out = tmp.path().join("out");
    let build = run(tmp.path(), "build", Some(&out));
    assert_eq!(build.status.code(), Some(0), "{}", describe(&build));
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(
        !stderr.contains("rejected"),
        "build rejects a seed: {}",
        describe(&build)
    );

    let rss = fs::read(out.join("rss.xml")).expect("rss.xml");
    let channel = rss::Channel::read_from(&rss[..]).expect("rss.xml parses");
    assert!(
        channel.items().len() >= 16,
        "only {} RSS items",
        channel.items().len()
    );
    let atom = fs::read(out.join("atom.xml")).expect("atom.xml");
    let feed = atom_syndication::Feed::read_from(&atom[..]).expect("atom.xml parses");
    assert!(
        feed.entries().len() >= 16,
        "only {} Atom entries",
        feed.entries().len()
    );
    assert_eq!(
        channel.items().len(),
        feed.entries().len(),
        "RSS and Atom hold the same number of items"
    );
}
