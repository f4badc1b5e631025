//! Faults of the file system under a running `feedpub serve` (the real binary) and
//! `feedpub build`: the articles folder deleted, renamed or made unreadable, unreadable
//! and special articles, an article written slowly in place, symlink loops, a 2 GiB sparse
//! file, an output folder that is a file or a full disk, and SIGKILL at random moments.
//!
//! The contract: the server keeps serving the last good feeds (and `/healthz` stays ok),
//! recovers when the fault goes away, never publishes a truncated article, and every file
//! in the output folder is always absent or a complete, well-formed feed.
//!
//! Tests run as root here. Root ignores permission bits, so the permission faults run the
//! server as `nobody` (uid 65534) when the tests are root, and as the current user otherwise.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use feed_rs::model::Feed;

/// How long any wait for the server to notice something lasts at most.
const SERVER_WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------
// A workspace and the server process
// ---------------------------------------------------------------------------------------

/// Servers that run as `nobody` cannot make a statistics database beside a configuration
/// owned by root; these tests are about other faults.
const STATS_OFF: &str = "stats = false\n";

/// A workspace readable by `nobody` (for the tests that drop privileges) with both folders
/// created, relative paths, a 1 s rescan and a 50 ms debounce unless `extra_config` sets one.
fn workspace(extra_config: &str) -> Workspace {
    let debounce = if extra_config.contains("debounce_ms") {
        ""
    } else {
        "debounce_ms = 50\n"
    };
    let ws = Workspace::with_config(&format!(
        "articles = \"articles\"\noutput = \"feeds\"\ntimezone = \"Asia/Tehran\"\n\
         rescan_interval_secs = 1\n{debounce}max_items = 1000\n{STATS_OFF}{extra_config}"
    ));
    fs::set_permissions(ws.root(), fs::Permissions::from_mode(0o755)).unwrap();
    ws.create_output();
    ws
}

/// Hands the output folder to `uid` (for a server that runs as `nobody`).
fn give_output_to(ws: &Workspace, uid: u32) {
    std::os::unix::fs::chown(&ws.output, Some(uid), Some(uid)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

const NOBODY: u32 = 65534;

/// The user to run the server as for permission faults: `nobody` when the tests are root
/// (root ignores permission bits) and `nobody` can run the binary; `Err` when the tests are
/// root and it cannot (a checkout in a folder `nobody` may not enter), so the permission
/// fault cannot be shown here; `Ok(None)` when the tests are not root.
fn unprivileged() -> Result<Option<u32>, String> {
    if !is_root() {
        return Ok(None);
    }
    use std::os::unix::process::CommandExt;
    let ran = Command::new(BIN)
        .arg("--version")
        .uid(NOBODY)
        .gid(NOBODY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ran {
        Ok(Some(NOBODY))
    } else {
        Err(format!(
            "SKIPPED: running as root and `nobody` cannot run {BIN}"
        ))
    }
}

/// `feedpub serve` on a workspace, with the checks these tests make of it.
struct Served {
    process: ServerProcess,
    addr: std::net::SocketAddr,
}

impl Served {
    /// Starts `feedpub serve` on an ephemeral port, as `uid` when given.
    fn start(ws: &Workspace, uid: Option<u32>) -> Served {
        let mut command = serve_command(&ws.config);
        command.args(["--addr", "127.0.0.1:0"]);
        if let Some(uid) = uid {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(uid);
        }
        let mut process = ServerProcess::spawn(command);
        let addr = process.wait_for_address(SERVER_WAIT);
        Served { process, addr }
    }

    fn get(&mut self, path: &str) -> (u16, Vec<u8>) {
        match try_get(self.addr, path) {
            Ok(response) => (response.status, response.body),
            Err(e) => panic!(
                "GET {path}: {e}; server exit status {:?}; log:\n{}",
                self.process.exited(),
                self.log()
            ),
        }
    }

    fn rss(&mut self) -> Vec<u8> {
        let (status, body) = self.get("/rss.xml");
        assert_eq!(status, 200);
        body
    }

    /// The served RSS feed, checked and read.
    fn feed(&mut self) -> Feed {
        check_feed("the served rss.xml", &self.rss())
    }

    fn assert_healthy(&mut self) {
        assert_eq!(self.get("/healthz"), (200, b"ok\n".to_vec()));
    }

    /// Forces a regeneration now (SIGHUP), so that a test does not wait for a rescan.
    fn hup(&self) {
        self.process.hup();
    }

    fn log(&self) -> String {
        self.process.stderr()
    }

    /// Waits until the RSS feed satisfies `done`; returns it.
    fn wait_for_rss(&mut self, what: &str, done: impl Fn(&Feed) -> bool) -> Feed {
        poll_for(SERVER_WAIT, || Some(self.feed()).filter(&done))
            .unwrap_or_else(|| panic!("{what}: not within {SERVER_WAIT:?}; log:\n{}", self.log()))
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

// ---------------------------------------------------------------------------------------
// Output folder checks
// ---------------------------------------------------------------------------------------

/// What an output folder holds.
#[derive(Debug, Default)]
struct OutputCheck {
    feeds: usize,
    temps: Vec<PathBuf>,
    broken: Vec<String>,
    unexpected: Vec<PathBuf>,
}

/// Walks `dir`: every `*.xml` must be well-formed XML and every `*.json` valid JSON; hidden
/// `.NAME.*.tmp` files are counted; every `*.html` page must be whole; anything else is
/// unexpected.
fn check_output(dir: &Path) -> OutputCheck {
    let mut check = OutputCheck::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
                continue;
            }
            if name.starts_with('.') && name.ends_with(".tmp") {
                check.temps.push(path);
                continue;
            }
            let Ok(mut bytes) = fs::read(&path) else {
                // Renamed away between listing and reading.
                continue;
            };
            // A precompressed variant is whole when it decompresses to a whole file.
            let name = match decompressed(&name, &bytes) {
                Some(Ok(plain)) => {
                    bytes = plain;
                    name[..name.len() - 3].to_string()
                }
                Some(Err(e)) => {
                    check
                        .broken
                        .push(format!("{}: {e} ({} bytes)", path.display(), bytes.len()));
                    continue;
                }
                None => name,
            };
            if name == ".feedpub-writing" {
                // Left by a publish stopped midway: the next one checks what it keeps.
                continue;
            }
            if name == ".feedpub-articles" {
                // The articles saved for a restart: whole when its checksum holds.
                let whole = bytes.len() >= 8 && bytes.starts_with(b"feedpub-articles ") && {
                    let (body, sum) = bytes.split_at(bytes.len() - 8);
                    xxhash_rust::xxh3::xxh3_64(body).to_le_bytes() == sum
                };
                if !whole {
                    check.broken.push(format!(
                        "{}: not whole ({} bytes)",
                        path.display(),
                        bytes.len()
                    ));
                }
            } else if matches!(
                name.as_str(),
                "_headers" | "_redirects" | ".feedpub-manifest"
            ) {
                if !bytes.ends_with(b"\n") || !bytes.starts_with(b"#") {
                    check.broken.push(format!(
                        "{}: not whole ({} bytes)",
                        path.display(),
                        bytes.len()
                    ));
                }
            } else if name.ends_with(".opml") {
                if let Err(e) = check_well_formed(&bytes) {
                    check
                        .broken
                        .push(format!("{}: {e} ({} bytes)", path.display(), bytes.len()));
                }
            } else if name.ends_with(".xml") {
                check.feeds += 1;
                if let Err(e) = check_well_formed(&bytes) {
                    check
                        .broken
                        .push(format!("{}: {e} ({} bytes)", path.display(), bytes.len()));
                }
            } else if name.ends_with(".html") {
                // A page is whole when it ends as every page ends.
                if !bytes.ends_with(b"</html>\n") {
                    check.broken.push(format!(
                        "{}: not a whole page ({} bytes)",
                        path.display(),
                        bytes.len()
                    ));
                }
            } else if name.ends_with(".json") {
                check.feeds += 1;
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    check
                        .broken
                        .push(format!("{}: {e} ({} bytes)", path.display(), bytes.len()));
                }
            } else {
                check.unexpected.push(path);
            }
        }
    }
    check
}

/// The bytes a `.gz` or `.br` file decompresses to; `None` for other files.
fn decompressed(name: &str, bytes: &[u8]) -> Option<std::io::Result<Vec<u8>>> {
    use std::io::Read;
    let mut out = Vec::new();
    let result = if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)
    } else if name.ends_with(".br") {
        brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out)
    } else {
        return None;
    };
    Some(result.map(|_| out))
}

fn assert_output_sound(what: &str, dir: &Path) -> OutputCheck {
    let check = check_output(dir);
    assert!(
        check.broken.is_empty(),
        "{what}: broken feeds in the output folder:\n{}",
        check.broken.join("\n")
    );
    assert!(
        check.unexpected.is_empty(),
        "{what}: unexpected files {:?}",
        check.unexpected
    );
    check
}

// ---------------------------------------------------------------------------------------
// The articles folder goes away
// ---------------------------------------------------------------------------------------

fn three_articles(ws: &Workspace) {
    for n in 1..=3 {
        ws.write_article(
            &format!("{n}.txt"),
            &story(n, &format!("Story {n}"), "Body."),
        );
    }
}

#[test]
fn articles_folder_deleted_while_serving_keeps_the_last_feed_and_recovers() {
    let ws = workspace("");
    three_articles(&ws);
    let mut server = Served::start(&ws, None);
    let before = server.rss();
    let on_disk = fs::read(ws.output.join("rss.xml")).unwrap();

    fs::remove_dir_all(&ws.articles).unwrap();
    server.hup();
    // Several rescans (1 s) and the forced regeneration go by.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.rss(), before, "the last good feed is served");
    server.assert_healthy();
    assert_eq!(
        fs::read(ws.output.join("rss.xml")).unwrap(),
        on_disk,
        "the published file is kept"
    );
    assert!(
        server.log().contains("cannot read the articles folder"),
        "the failure is logged: {}",
        server.log()
    );

    // The folder comes back with one more article: updates resume.
    fs::create_dir(&ws.articles).unwrap();
    three_articles(&ws);
    ws.write_article("4.txt", &story(4, "Story 4 after the restore", "Body."));
    let channel = server.wait_for_rss("the restored folder is published", |c| c.entries.len() == 4);
    assert!(sorted_titles(&channel).contains(&"Story 4 after the restore".to_string()));

    // And later edits in the new folder keep arriving (by events or the 1 s rescan).
    let edited = Instant::now();
    ws.write_article("5.txt", &story(5, "Story 5 edited later", "Body."));
    server.wait_for_rss("an edit after the restore", |c| c.entries.len() == 5);
    println!(
        "edit after restoring the folder seen in {:?}",
        edited.elapsed()
    );
    server.assert_healthy();
    assert_output_sound("after restore", &ws.output);
}

#[test]
fn articles_folder_renamed_while_serving_keeps_the_last_feed_and_recovers() {
    let ws = workspace("");
    three_articles(&ws);
    let mut server = Served::start(&ws, None);
    let before = server.rss();
    let moved = ws.root().join("articles.moved");
    fs::rename(&ws.articles, &moved).unwrap();
    // Edits to the moved folder are not the articles any more.
    fs::write(moved.join("9.txt"), story(9, "Written while moved", "B.")).unwrap();
    server.hup();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.rss(), before);
    server.assert_healthy();

    fs::rename(&moved, &ws.articles).unwrap();
    let channel = server.wait_for_rss("the renamed-back folder is published", |c| {
        c.entries.len() == 4
    });
    assert!(sorted_titles(&channel).contains(&"Written while moved".to_string()));
    server.assert_healthy();
}

/// After the articles folder is replaced (deleted or renamed, then created again), file
/// events from the new folder must drive updates again, not only the periodic rescan: the
/// server watches the folder's parent too and follows the folder that is there now.
#[test]
fn file_events_resume_after_the_articles_folder_is_recreated() {
    let ws = workspace("");
    fs::write(
        &ws.config,
        "articles = \"articles\"\noutput = \"feeds\"\nrescan_interval_secs = 3600\n",
    )
    .unwrap();
    three_articles(&ws);
    let mut server = Served::start(&ws, None);
    fs::rename(&ws.articles, ws.root().join("old")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    fs::create_dir(&ws.articles).unwrap();
    three_articles(&ws);
    server.hup();
    server.wait_for_rss("the recreated folder after SIGHUP", |c| {
        c.entries.len() == 3
    });
    // Let every retry of the regeneration die out: only a file event can bring 4.txt now.
    std::thread::sleep(Duration::from_millis(2500));
    ws.write_article("4.txt", &story(4, "Story 4 in the new folder", "B."));
    let seen = poll_for(Duration::from_secs(3), || {
        (server.feed().entries.len() == 4).then_some(())
    });
    assert!(
        seen.is_some(),
        "an article written in the recreated folder was not seen within 3 s"
    );
}

/// chmod 000 on the folder: meaningless for root, so the server runs as `nobody` there.
#[test]
fn articles_folder_made_unreadable_keeps_the_last_feed_and_recovers() {
    let uid = match unprivileged() {
        Ok(uid) => uid,
        Err(skipped) => return eprintln!("{skipped}"),
    };
    let ws = workspace("");
    three_articles(&ws);
    if let Some(uid) = uid {
        give_output_to(&ws, uid);
    }
    let mut server = Served::start(&ws, uid);
    let before = server.rss();

    fs::set_permissions(&ws.articles, fs::Permissions::from_mode(0o000)).unwrap();
    ws.write_article("4.txt", &story(4, "Hidden by chmod", "B."));
    server.hup();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.rss(), before, "the last good feed is served");
    server.assert_healthy();
    assert!(
        server.log().contains("Permission denied"),
        "{}",
        server.log()
    );

    fs::set_permissions(&ws.articles, fs::Permissions::from_mode(0o755)).unwrap();
    server.hup();
    server.wait_for_rss("updates resume after chmod 755", |c| c.entries.len() == 4);
    server.assert_healthy();
}

/// SIGHUP (log rotation, a deploy script) may come at any moment, even right after the
/// server printed its address: it must regenerate, never kill. Until the signal handler was
/// installed before the banner, one start in a few died with status 129 here.
#[test]
fn sighup_right_after_start_does_not_kill_the_server() {
    let ws = workspace("");
    three_articles(&ws);
    for attempt in 0..20 {
        let mut server = Served::start(&ws, None);
        server.hup();
        server.hup();
        std::thread::sleep(Duration::from_millis(100));
        let exited = server.process.exited();
        assert!(
            exited.is_none(),
            "attempt {attempt}: SIGHUP right after start killed the server: {exited:?}"
        );
        server.assert_healthy();
    }
}

// ---------------------------------------------------------------------------------------
// Unreadable and special files among the articles
// ---------------------------------------------------------------------------------------

#[test]
fn unreadable_articles_are_rejected_and_the_rest_published() {
    let ws = workspace("");
    three_articles(&ws);
    let articles = ws.articles.clone();
    // Mode 000: unreadable for `nobody` (root reads it anyway, so only checked as nobody).
    ws.write_article("mode000.txt", &story(10, "Mode 000", "B."));
    fs::set_permissions(
        articles.join("mode000.txt"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    // Cases that are unreadable even for root.
    fs::create_dir(articles.join("folder.txt")).unwrap();
    std::os::unix::fs::symlink(articles.join("missing.txt"), articles.join("dangling.txt"))
        .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", articles.join("passwd.txt")).unwrap();
    std::os::unix::fs::symlink("..", articles.join("up.txt")).unwrap();
    std::os::unix::fs::symlink(".", articles.join("self-dir.txt")).unwrap();
    // A FIFO: opening it would block forever without a writer.
    let fifo = std::ffi::CString::new(articles.join("fifo.txt").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink(articles.join("fifo.txt"), articles.join("to-fifo.txt")).unwrap();
    // /dev/zero behind a symlink: outside the folder.
    std::os::unix::fs::symlink("/dev/zero", articles.join("zero.txt")).unwrap();

    // As root without a usable `nobody`, mode 000 is not a fault; the rest still is.
    let uid = unprivileged().unwrap_or_else(|skipped| {
        eprintln!("{skipped} (mode 000 part)");
        None
    });
    if let Some(uid) = uid {
        give_output_to(&ws, uid);
    }
    let started = Instant::now();
    let mut server = Served::start(&ws, uid);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the scan did not block on the FIFO"
    );
    let channel = server.feed();
    assert_eq!(
        sorted_titles(&channel),
        vec!["Story 1", "Story 2", "Story 3"],
        "only the three good articles; log:\n{}",
        server.log()
    );
    let log = server.log();
    for rejected in ["dangling.txt", "passwd.txt", "up.txt", "zero.txt"] {
        assert!(
            log.contains(rejected),
            "{rejected} is reported as rejected:\n{log}"
        );
    }
    if uid.is_some() || !is_root() {
        assert!(log.contains("mode000.txt"), "{log}");
    }
    // New edits still flow with the bad files present.
    ws.write_article("4.txt", &story(4, "Story 4", "B."));
    server.wait_for_rss("an edit beside the bad files", |c| c.entries.len() == 4);

    // `feedpub check` names every rejected file and exits 1, without hanging on the FIFO.
    let check = run_with_config("check", &ws.config);
    assert_eq!(check.code, 1, "{check:?}");
    let text = &check.stdout;
    assert!(text.contains("dangling.txt: cannot read"), "{text}");
}

#[test]
fn symlink_loops_are_rejected_without_hanging() {
    let ws = workspace("");
    three_articles(&ws);
    let a = &ws.articles;
    std::os::unix::fs::symlink(a.join("loop-b.txt"), a.join("loop-a.txt")).unwrap();
    std::os::unix::fs::symlink(a.join("loop-a.txt"), a.join("loop-b.txt")).unwrap();
    std::os::unix::fs::symlink(a.join("self.txt"), a.join("self.txt")).unwrap();
    // A symlinked folder cycle beside the articles.
    fs::create_dir(a.join("sub")).unwrap();
    std::os::unix::fs::symlink(a, a.join("sub/back")).unwrap();
    std::os::unix::fs::symlink(a.join("sub"), a.join("cycle.txt")).unwrap();

    let started = Instant::now();
    let build = run_with_config("build", &ws.config);
    assert!(started.elapsed() < Duration::from_secs(10));
    let (stdout, stderr) = (&build.stdout, &build.stderr);
    assert_eq!(build.code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("published 3 article(s)"), "{stdout}");
    for name in ["loop-a.txt", "loop-b.txt", "self.txt"] {
        assert!(
            stderr.contains(&format!("{name}: cannot read")) || stdout.contains(name),
            "{name} is reported:\n{stdout}\n{stderr}"
        );
    }
    let mut server = Served::start(&ws, None);
    server.assert_healthy();
    assert_eq!(server.feed().entries.len(), 3);
}

/// A 2 GiB sparse file is rejected by `max_article_bytes` from its size alone: reading it
/// would take seconds and 2 GiB of memory.
#[test]
fn two_gib_sparse_file_is_rejected_by_size_without_being_read() {
    let ws = workspace("");
    three_articles(&ws);
    let huge = fs::File::create(ws.articles.join("huge.txt")).unwrap();
    huge.set_len(2 << 30).unwrap();
    drop(huge);
    // Just over the default cap, with real bytes.
    ws.write_article("big.txt", &"x".repeat((1 << 20) + 1));

    let started = Instant::now();
    let build = run_with_config("build", &ws.config);
    let took = started.elapsed();
    println!("build beside a 2 GiB sparse file: {took:?}");
    let (stdout, stderr) = (&build.stdout, &build.stderr);
    assert_eq!(build.code, 0, "{stdout}\n{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "the build took {took:?}: the file was read"
    );
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("huge.txt: file is 2147483648 bytes, larger than the limit"),
        "{all}"
    );
    assert!(all.contains("big.txt: file is 1048577 bytes"), "{all}");

    // The same through the loader, with its memory: no 2 GiB allocation.
    let started = Instant::now();
    let report = feedpub::Loader::new(ws.articles.clone(), 1 << 20)
        .scan()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.articles.len(), 3);
    assert_eq!(report.rejected.len(), 2);

    // A file that grows past the cap between the size check and the read is cut at the cap.
    let mut server = Served::start(&ws, None);
    server.assert_healthy();
    assert_eq!(server.feed().entries.len(), 3);
}

// ---------------------------------------------------------------------------------------
// An article written slowly in place
// ---------------------------------------------------------------------------------------

/// A scraper writes an article in place in two halves with a pause between them, while the
/// server rescans. At no time may the feed carry the half article: the item is absent (or,
/// for an edit, the old version) until it is complete.
///
/// The server reads a changed file only once it has not changed for `debounce_ms` (here
/// 400 ms); a writer that pauses longer than that in the middle of a file can still be
/// published half-written. Writing to a temporary name and renaming is always safe.
#[test]
fn an_article_written_slowly_in_place_is_never_published_truncated() {
    const PAUSE: Duration = Duration::from_millis(150);
    let ws = workspace("debounce_ms = 400\n");
    three_articles(&ws);
    let mut server = Served::start(&ws, None);
    let full = story(
        77,
        "A story written slowly",
        "First paragraph of the slow story.\n\nSecond paragraph, the end of the story.",
    );
    let edited = full
        .replace("slowly", "slowly, edited")
        .replace("the end", "THE END");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Poll the feed as fast as possible during the writes, recording every version of #77.
    let poller = {
        let stop = std::sync::Arc::clone(&stop);
        let addr = server.addr;
        std::thread::spawn(move || {
            let mut seen: Vec<(String, String, String)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = try_get(addr, "/rss.xml").ok();
                if let Some(response) = response.filter(|r| r.status == 200) {
                    let feed = parse_feed(&response.body);
                    for entry in &feed.entries {
                        let key = (
                            entry.id.clone(),
                            entry_title(entry),
                            entry_content(entry).unwrap_or_default(),
                        );
                        if !key.0.ends_with(":1")
                            && !key.0.ends_with(":2")
                            && !key.0.ends_with(":3")
                            && !seen.contains(&key)
                        {
                            seen.push(key);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        })
    };

    let write_slowly = |text: &str, cut: usize, pause: Duration| {
        let path = ws.articles.join("slow_story.txt");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.write_all(&text.as_bytes()[..cut]).unwrap();
        file.flush().unwrap();
        std::thread::sleep(pause);
        file.write_all(&text.as_bytes()[cut..]).unwrap();
        file.flush().unwrap();
    };
    // New article: cut after the first paragraph (the half parses as a valid article with
    // the file name as identity), and mid-title.
    let after_first_paragraph = full.find("Second").unwrap();
    write_slowly(&full, after_first_paragraph, PAUSE);
    server.wait_for_rss("the complete article", |c| c.entries.len() == 4);
    std::thread::sleep(Duration::from_millis(1500));
    // Edit in place, cut mid-paragraph.
    write_slowly(&edited, edited.find("THE END").unwrap(), PAUSE);
    server.wait_for_rss("the complete edit", |c| {
        c.entries
            .iter()
            .any(|e| entry_content(e).unwrap_or_default().contains("THE END"))
    });
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = poller.join().unwrap();

    let complete =
        |content: &str| content.contains("First paragraph") && content.contains("Second paragraph");
    let versions: Vec<String> = seen
        .iter()
        .map(|(guid, title, content)| format!("{guid} | {title} | {content}"))
        .collect();
    for (guid, _, content) in &seen {
        assert!(
            guid.ends_with(":77") && complete(content),
            "a truncated article was published: {guid} {content:?}\nall versions seen:\n{}",
            versions.join("\n")
        );
    }
    assert_eq!(
        seen.len(),
        2,
        "exactly the two complete versions: {versions:#?}"
    );
}

/// The other side of waiting for files to settle: an article rewritten every 50 ms never
/// settles, and must still reach the feeds (the server holds a changing file back for at
/// most a second).
#[test]
fn an_article_rewritten_constantly_still_reaches_the_feeds() {
    let ws = workspace("");
    three_articles(&ws);
    let mut server = Served::start(&ws, None);
    let started = Instant::now();
    let path = ws.articles.join("busy.txt");
    let mut revision = 0;
    let mut published_after = None;
    while started.elapsed() < Duration::from_secs(6) {
        revision += 1;
        fs::write(
            &path,
            story(88, &format!("Busy story revision {revision}"), "B."),
        )
        .unwrap();
        if published_after.is_none() {
            let channel = server.feed();
            if channel.entries.len() == 4 {
                published_after = Some(started.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let published_after =
        published_after.expect("a constantly rewritten article was never published");
    println!("constantly rewritten article published after {published_after:?}");
    assert!(
        published_after < Duration::from_secs(3),
        "{published_after:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The output folder cannot be written
// ---------------------------------------------------------------------------------------

#[test]
fn output_path_that_is_a_file_keeps_serving_from_memory_and_build_fails_clearly() {
    let ws = workspace("");
    three_articles(&ws);
    fs::remove_dir(&ws.output).unwrap();
    fs::write(&ws.output, "not a folder").unwrap();

    let build = run_with_config("build", &ws.config);
    assert_eq!(build.code, 1, "{build:?}");
    let stderr = &build.stderr;
    assert!(
        stderr.contains("feeds") && stderr.contains("cannot write"),
        "{stderr}"
    );

    let mut server = Served::start(&ws, None);
    assert_eq!(server.feed().entries.len(), 3);
    ws.write_article("4.txt", &story(4, "Story 4", "B."));
    server.wait_for_rss("an update served from memory", |c| c.entries.len() == 4);
    server.assert_healthy();
    assert!(
        server.log().contains("feeds are still served from memory"),
        "{}",
        server.log()
    );
    assert_eq!(fs::read_to_string(&ws.output).unwrap(), "not a folder");
}

/// The output folder is made read-only (as `nobody`, since root ignores the mode).
#[test]
fn read_only_output_folder_keeps_serving_and_keeps_the_old_files_whole() {
    let uid = match unprivileged() {
        Ok(uid) => uid,
        Err(skipped) => return eprintln!("{skipped}"),
    };
    let ws = workspace("");
    three_articles(&ws);
    if let Some(uid) = uid {
        give_output_to(&ws, uid);
    }
    let mut server = Served::start(&ws, uid);
    let old = fs::read(ws.output.join("rss.xml")).unwrap();
    fs::set_permissions(&ws.output, fs::Permissions::from_mode(0o555)).unwrap();
    ws.write_article("4.txt", &story(4, "Story 4", "B."));
    server.wait_for_rss("served from memory", |c| c.entries.len() == 4);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fs::read(ws.output.join("rss.xml")).unwrap(), old);
    assert_output_sound("read-only output", &ws.output);
    assert!(
        server.log().contains("Permission denied"),
        "{}",
        server.log()
    );
    fs::set_permissions(&ws.output, fs::Permissions::from_mode(0o755)).unwrap();
    ws.write_article("5.txt", &story(5, "Story 5", "B."));
    server.wait_for_rss("writable again", |c| c.entries.len() == 5);
    wait_until(SERVER_WAIT, "the files are written again", || {
        fs::read(ws.output.join("rss.xml")).unwrap() != old
    });
    assert_output_sound("writable again", &ws.output);
}

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full disk: the output folder is a 256 KiB tmpfs (each file takes at least a 4 KiB page). Feeds that outgrow it cannot be
/// written; the server serves them from memory, the files on disk stay the old complete
/// ones, no temporary file is left behind, and writing resumes when they fit again.
#[test]
fn full_disk_keeps_serving_from_memory_and_never_truncates_a_file() {
    let ws = workspace("");
    three_articles(&ws);
    let Some(_tmpfs) = Tmpfs::mount(&ws.output, "256k") else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here");
        return;
    };
    let mut server = Served::start(&ws, None);
    let small = fs::read(ws.output.join("rss.xml")).unwrap();
    check_feed("rss.xml on the small disk", &small);

    // About 150 kB of each feed, and 90 files of pages: more than the disk.
    let long_body = "A long paragraph of the story that fills the disk. ".repeat(40);
    for n in 100..130 {
        ws.write_article(
            &format!("{n}.txt"),
            &story(n, &format!("Big story {n}"), &long_body),
        );
    }
    server.wait_for_rss("the big feeds served from memory", |c| {
        c.entries.len() == 33
    });
    std::thread::sleep(Duration::from_millis(500));
    let check = assert_output_sound("disk full", &ws.output);
    assert!(
        check.temps.is_empty(),
        "temporary files left on the full disk: {:?}",
        check.temps
    );
    let now_on_disk = fs::read(ws.output.join("rss.xml")).unwrap();
    assert!(
        now_on_disk == small || is_complete_feed(&now_on_disk),
        "rss.xml is the old file or a complete new one"
    );
    assert!(
        server.log().contains("No space left on device"),
        "{}",
        server.log()
    );
    server.assert_healthy();

    // Room again: the big articles go, the feeds fit and are written.
    for n in 100..130 {
        fs::remove_file(ws.articles.join(format!("{n}.txt"))).unwrap();
    }
    ws.write_article("4.txt", &story(4, "Story 4 after the disk emptied", "B."));
    server.wait_for_rss("small again", |c| c.entries.len() == 4);
    wait_until(SERVER_WAIT, "rss.xml is written again", || {
        let on_disk = fs::read(ws.output.join("rss.xml")).unwrap();
        String::from_utf8_lossy(&on_disk).contains("Story 4 after the disk emptied")
    });
    let check = assert_output_sound("after the disk emptied", &ws.output);
    assert!(check.temps.is_empty(), "{:?}", check.temps);
}

/// Every file under `dir` with its bytes.
fn contents_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|name| {
            let bytes = fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Asserts that a failed build said which file it could not write and left every file
/// of the site whole: each the old file, or a whole new one.
fn assert_failed_build_kept_the_site(what: &str, build: &Run, ws: &Workspace) {
    assert_eq!(build.code, 1, "{what}: {build:?}");
    assert!(
        build.stderr.contains("cannot write")
            && build.stderr.contains(&*ws.output.to_string_lossy()),
        "{what}: the error names a file of the output folder: {}",
        build.stderr
    );
    let check = assert_output_sound(what, &ws.output);
    assert!(check.temps.is_empty(), "{what}: {:?}", check.temps);
}

#[test]
fn build_on_a_full_disk_fails_naming_the_file_and_leaves_every_file_whole() {
    let ws = workspace("");
    three_articles(&ws);
    let Some(_tmpfs) = Tmpfs::mount(&ws.output, "256k") else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here");
        return;
    };
    assert_eq!(run_with_config("build", &ws.config).code, 0);
    let long_body = "A long paragraph of the story that fills the disk. ".repeat(40);
    for n in 100..130 {
        ws.write_article(
            &format!("{n}.txt"),
            &story(n, &format!("Big story {n}"), &long_body),
        );
    }
    let build = run_with_config("build", &ws.config);
    assert!(build.stderr.contains("No space left"), "{}", build.stderr);
    assert_failed_build_kept_the_site("build on a full disk", &build, &ws);
}

#[test]
fn build_into_a_read_only_folder_fails_naming_the_file_and_changes_nothing() {
    use std::os::unix::process::CommandExt;
    let uid = match unprivileged() {
        Ok(uid) => uid,
        Err(skipped) => return eprintln!("{skipped}"),
    };
    let ws = workspace("");
    three_articles(&ws);
    if let Some(uid) = uid {
        give_output_to(&ws, uid);
    }
    let build_as = |uid: Option<u32>| {
        let mut command = feedpub(ws.root());
        command.arg("build").arg("--config").arg(&ws.config);
        if let Some(uid) = uid {
            command.uid(uid).gid(uid);
        }
        Run::of(&mut command)
    };
    assert_eq!(build_as(uid).code, 0);
    let before = contents_of(&ws.output);
    fs::set_permissions(&ws.output, fs::Permissions::from_mode(0o555)).unwrap();
    ws.write_article("4.txt", &story(4, "Story 4", "B."));
    let build = build_as(uid);
    fs::set_permissions(&ws.output, fs::Permissions::from_mode(0o755)).unwrap();
    assert_failed_build_kept_the_site("build into a read-only folder", &build, &ws);
    assert_eq!(
        contents_of(&ws.output),
        before,
        "the previous site is unchanged"
    );
}

// ---------------------------------------------------------------------------------------
// kill -9
// ---------------------------------------------------------------------------------------

fn corpus(ws: &Workspace, count: u32) {
    let body =
        "Paragraph of a story in the kill -9 corpus, long enough to take some time. ".repeat(20);
    for n in 0..count {
        if n % 10 == 0 {
            ws.write_article(
                &format!("{n:04}.md"),
                &format!(
                    "+++\ntitle = \"Markdown story {n}\"\ndate = 2024-01-{:02}T10:00:00Z\ntags = [\"tag{}\", \"common\"]\n+++\n\n{body}\n",
                    n % 28 + 1,
                    n % 7
                ),
            );
        } else {
            ws.write_article(
                &format!("{n:04}.txt"),
                &story(1000 + n, &format!("Story {n}"), &body),
            );
        }
    }
}

struct Kill9Figures {
    kills: usize,
    kills_mid_write: usize,
    temps_left: usize,
    feeds_checked: usize,
}

/// Builds and serves a corpus while a writer edits it, killing the process with SIGKILL at
/// a random moment each iteration; after each kill the output folder must hold only
/// complete feeds (and hidden temporary files).
fn kill9_loop(iterations: usize) -> Kill9Figures {
    let ws = workspace("");
    corpus(&ws, 300);
    // How long a build takes here (the fastest of three), to spread the kills over it.
    let mut build_time = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let status = feedpub(ws.root())
            .args(["build", "--config"])
            .arg(&ws.config)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        build_time = build_time.min(started.elapsed());
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = std::sync::Arc::clone(&stop);
        let articles = ws.articles.clone();
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = 1 + (rand_u64() % 299) as u32;
                if !n.is_multiple_of(10) {
                    let views = i;
                    let text = story(1000 + n, &format!("Story {n} edit {i}"), "Edited body.")
                        .replace("Show Count : 1", &format!("Show Count : {views}"));
                    let _ = fs::write(articles.join(format!("{n:04}.txt")), text);
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut figures = Kill9Figures {
        kills: 0,
        kills_mid_write: 0,
        temps_left: 0,
        feeds_checked: 0,
    };
    let mut temps_before = 0;
    for iteration in 0..iterations {
        let serve = iteration % 2 == 1;
        let mut command = Command::new(BIN);
        if serve {
            command.args(["serve", "--addr", "127.0.0.1:0"]);
        } else {
            command.arg("build");
        }
        let mut child = command
            .arg("--config")
            .arg(&ws.config)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let window = if serve { build_time * 3 } else { build_time };
        let delay = Duration::from_micros(rand_u64() % (window.as_micros() as u64 + 1));
        std::thread::sleep(delay);
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        let status = child.wait().unwrap();
        if status.code().is_none() {
            figures.kills += 1;
        }
        let check = assert_output_sound(&format!("after kill #{iteration}"), &ws.output);
        if check.temps.len() > temps_before {
            figures.kills_mid_write += 1;
        }
        temps_before = check.temps.len();
        figures.temps_left = check.temps.len();
        figures.feeds_checked += check.feeds;
        assert!(
            check.feeds >= 3,
            "after kill #{iteration}: the feeds are still there"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    figures
}

/// 20 kills here; `reliability/kill9.sh` runs the same loop with more
/// (`FEEDPUB_KILL9_ITERATIONS`, 150 by default there).
#[test]
fn kill_9_during_build_and_serve_never_leaves_a_broken_feed() {
    let iterations = std::env::var("FEEDPUB_KILL9_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let figures = kill9_loop(iterations);
    println!(
        "kill -9: {} kills, {} left a temporary file, {} temporary files in the folder at the end \
         (removed once 10 minutes old), {} feed files checked",
        figures.kills, figures.kills_mid_write, figures.temps_left, figures.feeds_checked
    );
    assert!(
        figures.kills >= iterations / 2,
        "most runs were killed, not finished"
    );
}

#[test]
fn a_folder_past_max_articles_is_refused_naming_the_limit_and_the_last_good_feeds_stay() {
    let ws = workspace("max_articles = 3\n");
    three_articles(&ws);
    let mut server = Served::start(&ws, None);
    server.wait_for_rss("three articles", |f| f.entries.len() == 3);
    // A fourth file takes the folder past the limit: the regeneration fails, named in the
    // log, and the three articles are still served.
    ws.write_article("4.txt", &story(4, "Story 4", "Body."));
    server.hup();
    poll_for(SERVER_WAIT, || {
        Some(()).filter(|()| server.log().contains("more than 3 files (max_articles)"))
    })
    .unwrap_or_else(|| panic!("the limit is logged:\n{}", server.log()));
    assert_eq!(server.feed().entries.len(), 3);
    server.assert_healthy();
    // The article pages of the three are still read from their files.
    let (status, page) = server.get("/articles/2.html");
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("Story 2") && page.contains("Body."), "{page}");
    // `build` and `check` refuse the folder with the same message, exit status 1.
    for command in ["build", "check"] {
        let run = run_with_config(command, &ws.config);
        assert_eq!(run.code, 1, "{command}: {}", run.all_output());
        assert!(
            run.all_output()
                .contains("more than 3 files (max_articles)"),
            "{command}: {}",
            run.all_output()
        );
    }
}
