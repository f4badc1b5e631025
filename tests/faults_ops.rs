//! Faults of operation under the real `feedpub` binary: SIGKILL during a large `build` and
//! during statistics writes under load; the statistics database locked by another process,
//! made read-only (immutable) and deleted while serving; TLS certificate files removed or
//! replaced by garbage before a SIGHUP; the access log on a full disk and deleted without a
//! SIGHUP.
//!
//! The contract: feeds are always served (200 or 304, never a 5xx), a fault is reported
//! once (not once per poll), recording resumes when the fault clears, the database stays
//! whole (`PRAGMA integrity_check` is `ok`), and every file a web server would serve from a
//! killed build's output folder is whole.
//!
//! The kill loops take their size from the environment, so that `reliability/kill9.sh`
//! runs them with hundreds of kills against the release build:
//! `FEEDPUB_KILL9_BUILD_ARTICLES` and `FEEDPUB_KILL9_BUILD_ITERATIONS` (200 articles and
//! 3 kills here), `FEEDPUB_KILL9_STATS_ITERATIONS` (3 kills here).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const START: Duration = Duration::from_secs(30);
const TOKEN: &str = "faults-admin-token-0123456789";

// ---------------------------------------------------------------------------------------
// Shared parts
// ---------------------------------------------------------------------------------------

/// A number from the environment, or `default`.
fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A pseudo-random number, seeded from the clock and a random hasher key.
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

/// A tmpfs mounted for the length of a test, when the test may mount one.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).unwrap();
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

/// Sets or clears the immutable attribute of `paths` (`chattr +i`): even root's writes
/// through descriptors opened before fail with `EPERM` on ext4, which makes a file
/// read-only under a running server. False when the file system or the user cannot.
fn immutable(paths: &[PathBuf], on: bool) -> bool {
    let flag = if on { "+i" } else { "-i" };
    paths.iter().all(|p| {
        Command::new("chattr")
            .arg(flag)
            .arg(p)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A workspace with the corpus, an admin token, and `extra`.
fn ops_workspace(extra: &str) -> Workspace {
    Workspace::with_corpus(&format!("admin_token = \"{TOKEN}\"\n{extra}"))
}

fn start(ws: &Workspace) -> ServerProcess {
    let mut server = ServerProcess::spawn(serve_command(&ws.config));
    server.wait_for_banner(START);
    server
}

/// `GET path` from `source` with `agent`; the status.
fn poll_from(source: IpAddr, addr: SocketAddr, path: &str, agent: &str) -> u16 {
    request_from(source, addr, "GET", path, &[("User-Agent", agent)]).status
}

/// [`poll_from`] for a server that may be killed at any moment, on `runtime`: an error
/// instead of a panic.
fn try_poll_from(
    runtime: &tokio::runtime::Runtime,
    source: IpAddr,
    addr: SocketAddr,
    path: &str,
    agent: &str,
) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let mut stream = socket.connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), exchange).await })
        .map_err(|_| std::io::Error::other("timed out"))??;
    raw.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))
}

/// The `n`th distinct loopback address of reader group `group` (127.G.x.y).
fn reader_address(group: u8, n: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        group,
        (n >> 8) as u8,
        (n & 0xff).max(1) as u8,
    ))
}

/// Polls `count` feeds as distinct readers (address and User-Agent named by `tag`) and
/// asserts that every one was served.
fn polls_served(server: &ServerProcess, tag: &str, count: u64) {
    for n in 0..count {
        let path = ["/rss.xml", "/atom.xml", "/feed.json"][(n % 3) as usize];
        let status = poll_from(
            reader_address(60, n),
            server.addr(),
            path,
            &format!("{tag}-{n}/1.0"),
        );
        assert_eq!(status, 200, "{tag}: poll {n} of {path}");
    }
}

/// `PRAGMA integrity_check` of the database at `db`.
fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// The polls and the distinct direct readers the database holds: `(polls, readers)`.
fn recorded(db: &Path) -> (u64, u64) {
    try_recorded(db).unwrap_or_else(|e| panic!("{}: {e}", db.display()))
}

/// [`recorded`], or why the database cannot be read (yet).
fn try_recorded(db: &Path) -> rusqlite::Result<(u64, u64)> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.query_row(
        "SELECT coalesce(sum(polls), 0), count(*) FROM direct",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
}

/// The polls the database counts as dropped (a full queue or batch): not lost, counted.
fn dropped_polls(db: &Path) -> u64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("SELECT coalesce(sum(polls), 0) FROM dropped", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap() as u64
}

/// How many times `needle` is in the server's log.
fn count_in_log(server: &ServerProcess, needle: &str) -> usize {
    server.stderr().matches(needle).count()
}

fn assert_no_panic(server: &ServerProcess) {
    let log = server.stderr();
    assert!(!log.contains("panicked"), "{log}");
}

// ---------------------------------------------------------------------------------------
// kill -9 during a large build
// ---------------------------------------------------------------------------------------

/// The article `n` of the build corpus in version `version` (0 or 1): every tenth is
/// Markdown with tags.
fn build_article(n: usize, version: usize) -> (String, String) {
    let body = format!(
        "Paragraph {version} of story {n}, long enough to make the pages and feeds weigh something. "
    )
    .repeat(12);
    if n.is_multiple_of(10) {
        (
            format!("{n:05}.md"),
            format!(
                "+++\ntitle = \"Markdown story {n} v{version}\"\ndate = 2024-{:02}-{:02}T10:{:02}:00Z\ntags = [\"tag{}\", \"common\"]\n+++\n\n{body}\n\nSecond paragraph.\n",
                n % 12 + 1,
                n % 28 + 1,
                n % 60,
                n % 13
            ),
        )
    } else {
        (
            format!("{n:05}.txt"),
            story(
                100_000 + n as u32,
                &format!("Story {n} v{version}"),
                &format!("{body}\n\nSecond paragraph."),
            ),
        )
    }
}

/// What a check of an output folder found.
#[derive(Debug, Default)]
struct SiteCheck {
    /// Files read and found whole (variants included).
    whole: usize,
    /// Files that are not whole, with why.
    broken: Vec<String>,
    /// Hidden temporary files (`.NAME.*.tmp`).
    temps: Vec<String>,
    /// Files that are neither a site file nor a hidden temporary file.
    unexpected: Vec<String>,
    /// Variants (`.gz`, `.br`) whose plain file holds other bytes: a kill fell between the
    /// variant's rename and its plain file's (each is whole).
    mixed: Vec<String>,
}

/// Whether `bytes` are a whole file of the kind `name` says, or why not.
fn whole_file(name: &str, bytes: &[u8]) -> Result<(), String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    if name.ends_with(".xml") || name.ends_with(".opml") {
        check_well_formed(bytes)
    } else if name.ends_with(".json") {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .map(drop)
            .map_err(|e| e.to_string())
    } else if name.ends_with(".html") {
        if bytes.ends_with(b"</html>\n") {
            Ok(())
        } else {
            Err("not a whole page".into())
        }
    } else if matches!(base, "_headers" | "_redirects" | ".feedpub-manifest") {
        if bytes.starts_with(b"#") && bytes.ends_with(b"\n") {
            Ok(())
        } else {
            Err("not whole".into())
        }
    } else {
        Err("not a file of the site".into())
    }
}

/// The bytes a `.gz` or `.br` file decompresses to.
fn decompress(name: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    } else {
        brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out)?;
    }
    Ok(out)
}

/// Every file of `dir`, as a static web server would serve it: each plain file whole for
/// its kind; each precompressed variant decompresses, and what it holds is whole for its
/// kind (compared with its plain file: equal, or from another generation: `mixed`).
fn check_site(dir: &Path) -> SiteCheck {
    let mut check = SiteCheck::default();
    for name in files_under(dir) {
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        if base.starts_with('.') && base.ends_with(".tmp") {
            check.temps.push(name);
            continue;
        }
        let Ok(bytes) = fs::read(dir.join(&name)) else {
            check.broken.push(format!("{name}: cannot be read"));
            continue;
        };
        let variant = name.ends_with(".gz") || name.ends_with(".br");
        let result = if variant {
            let plain_name = &name[..name.len() - 3];
            match decompress(&name, &bytes) {
                Err(e) => Err(format!("does not decompress: {e}")),
                Ok(plain) => whole_file(plain_name, &plain).inspect(|()| {
                    if fs::read(dir.join(plain_name)).is_ok_and(|p| p != plain) {
                        check.mixed.push(name.clone());
                    }
                }),
            }
        } else if name == ".feedpub-articles" || name == ".feedpub-writing" {
            Ok(())
        } else {
            whole_file(&name, &bytes)
        };
        match result {
            Ok(()) => check.whole += 1,
            Err(e) if e == "not a file of the site" => check.unexpected.push(name),
            Err(e) => check
                .broken
                .push(format!("{name}: {e} ({} bytes)", bytes.len())),
        }
    }
    check
}

/// The files the output folder's manifest (a journal of `+ NAME` and `- NAME`) names.
fn manifest_files(dir: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(dir.join(".feedpub-manifest")).expect("the manifest");
    let mut files = BTreeSet::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("+ ") {
            files.insert(name.to_string());
        } else if let Some(name) = line.strip_prefix("- ") {
            files.remove(name);
        }
    }
    files
}

/// The site's files in `dir`: everything but hidden files (the manifest, temporary files).
fn site_files(dir: &Path) -> BTreeSet<String> {
    files_under(dir)
        .into_iter()
        .filter(|n| !n.rsplit('/').next().unwrap_or(n).starts_with('.'))
        .collect()
}

/// The figures of a kill loop over `feedpub build`.
#[derive(Debug, Default)]
struct BuildKillFigures {
    kills: usize,
    finished: usize,
    files_checked: usize,
    broken: usize,
    mixed_after_kills: usize,
    temps_max: usize,
    verify_builds: usize,
    manifest_mismatches: usize,
    mixed_after_verify: usize,
    build_time: Duration,
}

/// A writer that, until `stop`, toggles articles between two versions (so that a build
/// often makes again what an earlier, killed build replaced) and removes and adds others.
fn spawn_article_writer(
    articles: PathBuf,
    count: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut writes = 0u64;
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let n = (rand_u64() as usize) % count;
            let (name, text) = build_article(n, i % 2);
            if i.is_multiple_of(7) {
                // Gone for a while, then back.
                let path = articles.join(&name);
                if path.exists() {
                    let _ = fs::remove_file(path);
                } else {
                    let _ = fs::write(path, text);
                }
            } else {
                let _ = fs::write(articles.join(name), text);
            }
            writes += 1;
            i += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        writes
    })
}

fn build_command(ws: &Workspace) -> Command {
    let mut command = feedpub(ws.root());
    command
        .args(["build", "--config"])
        .arg(&ws.config)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Builds a corpus of `articles` while a writer edits it, killing builds with SIGKILL at a
/// random moment until `kills` were killed; after each kill the folder is checked, and after every other kill a
/// build runs to its end and the folder must then agree with the manifest, with every
/// variant equal to its plain file.
fn build_kill_loop(articles: usize, kills: usize) -> BuildKillFigures {
    let ws = Workspace::empty("max_items = 100\narchive_page_size = 50");
    for n in 0..articles {
        let (name, text) = build_article(n, 0);
        ws.write_article(&name, &text);
    }
    let mut figures = BuildKillFigures {
        ..Default::default()
    };
    // How long a build takes here (the second, with the folder full), to spread the kills
    // over it.
    assert!(build_command(&ws).status().unwrap().success());
    let started = Instant::now();
    assert!(build_command(&ws).status().unwrap().success());
    figures.build_time = started.elapsed();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_article_writer(ws.articles.clone(), articles, Arc::clone(&stop));
    // Until `kills` builds were killed (a build that ends before its kill is not one), at
    // most twice as many runs.
    let mut iteration = 0;
    while figures.kills < kills && iteration < 2 * kills {
        iteration += 1;
        let mut child = build_command(&ws).spawn().unwrap();
        let window = figures.build_time.as_micros() as u64;
        std::thread::sleep(Duration::from_micros(rand_u64() % (window + 1)));
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        if child.wait().unwrap().code().is_none() {
            figures.kills += 1;
        } else {
            figures.finished += 1;
        }
        let check = check_site(&ws.output);
        figures.files_checked += check.whole + check.broken.len();
        figures.broken += check.broken.len();
        figures.mixed_after_kills += check.mixed.len();
        figures.temps_max = figures.temps_max.max(check.temps.len());
        assert!(
            check.broken.is_empty() && check.unexpected.is_empty(),
            "after kill #{iteration}: broken {:?}, unexpected {:?}",
            check.broken,
            check.unexpected
        );
        if iteration % 2 == 0 || figures.kills == kills {
            assert!(build_command(&ws).status().unwrap().success());
            figures.verify_builds += 1;
            let check = check_site(&ws.output);
            let listed = manifest_files(&ws.output);
            let present = site_files(&ws.output);
            if listed != present {
                figures.manifest_mismatches += 1;
            }
            figures.mixed_after_verify += check.mixed.len();
            assert!(
                check.broken.is_empty() && check.unexpected.is_empty(),
                "after the build that followed kill #{iteration}: {:?} {:?}",
                check.broken,
                check.unexpected
            );
            assert_eq!(
                listed.difference(&present).take(5).collect::<Vec<_>>(),
                Vec::<&String>::new(),
                "after kill #{iteration}: the manifest names files that are not there"
            );
            assert_eq!(
                present.difference(&listed).take(5).collect::<Vec<_>>(),
                Vec::<&String>::new(),
                "after kill #{iteration}: files the manifest does not name"
            );
            assert_eq!(
                check.mixed,
                Vec::<String>::new(),
                "after the build that followed kill #{iteration}: variants that are not their plain file"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    figures
}

/// 3 kills of a 200-article build here; `reliability/kill9.sh --build-10k` runs it with
/// 10,000 articles and 100 kills against the release build.
#[test]
fn kill_9_during_a_large_build_leaves_every_served_file_whole_and_the_manifest_true() {
    let articles = env_number("FEEDPUB_KILL9_BUILD_ARTICLES", 200);
    let kills = env_number("FEEDPUB_KILL9_BUILD_ITERATIONS", 3);
    let started = Instant::now();
    let f = build_kill_loop(articles, kills);
    println!(
        "kill -9 build: {articles} articles, build {:.2} s, {} kills, {} finished first, \
         {} files checked, {} broken, {} mixed-generation variants after kills, \
         at most {} temporary files, {} verifying builds, {} manifest mismatches, \
         {} mixed variants after them, {:.0} s",
        f.build_time.as_secs_f64(),
        f.kills,
        f.finished,
        f.files_checked,
        f.broken,
        f.mixed_after_kills,
        f.temps_max,
        f.verify_builds,
        f.manifest_mismatches,
        f.mixed_after_verify,
        started.elapsed().as_secs_f64()
    );
}

/// The room `dir`'s files take on a tmpfs: whole 4 KiB pages.
fn pages_of(dir: &Path) -> u64 {
    files_under(dir)
        .iter()
        .map(|name| {
            fs::metadata(dir.join(name)).map_or(0, |m| m.len().div_ceil(4096) * 4096 + 4096)
        })
        .sum()
}

/// 150 articles here (`FEEDPUB_FULL_DISK_ARTICLES`; `reliability/results/faults-and-kill9.md`
/// has the 10,000-article run): the site is built once to learn its size, then built again
/// into a tmpfs half that size.
#[test]
fn a_large_build_on_a_full_disk_fails_naming_the_file_and_the_next_build_with_room_is_whole() {
    let articles = env_number("FEEDPUB_FULL_DISK_ARTICLES", 150);
    let ws = Workspace::empty("max_items = 100\narchive_page_size = 50");
    for n in 0..articles {
        let (name, text) = build_article(n, 0);
        ws.write_article(&name, &text);
    }
    let first = run_with_config("build", &ws.config);
    assert_eq!(first.code, 0, "{first:?}");
    let needed = pages_of(&ws.output);
    fs::remove_dir_all(&ws.output).unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&ws.output, &format!("{}k", needed / 2 / 1024)) else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here");
        return;
    };
    let started = Instant::now();
    let full = run_with_config("build", &ws.config);
    let failed_in = started.elapsed();
    assert_eq!(full.code, 1, "{full:?}");
    assert!(
        full.stderr.contains("No space left")
            && full.stderr.contains("cannot write")
            && full.stderr.contains(&*ws.output.to_string_lossy()),
        "the error names a file of the output folder: {}",
        full.stderr
    );
    let check = check_site(&ws.output);
    assert!(
        check.broken.is_empty() && check.unexpected.is_empty(),
        "{:?} {:?}",
        check.broken,
        check.unexpected
    );
    assert!(
        check.temps.is_empty(),
        "temporary files left: {:?}",
        check.temps
    );
    let on_full_disk = check.whole;
    // Room again: the next build completes, and the folder is the manifest's.
    let remounted = Command::new("mount")
        .args([
            "-o",
            &format!("remount,size={}k", needed * 2 / 1024),
            "tmpfs",
        ])
        .arg(&ws.output)
        .status()
        .unwrap();
    assert!(remounted.success());
    let again = run_with_config("build", &ws.config);
    assert_eq!(again.code, 0, "{again:?}");
    let check = check_site(&ws.output);
    assert!(check.broken.is_empty() && check.unexpected.is_empty() && check.temps.is_empty());
    assert!(check.mixed.is_empty(), "{:?}", check.mixed);
    assert_eq!(manifest_files(&ws.output), site_files(&ws.output));
    println!(
        "full disk build: {articles} articles, site {} KiB on a {} KiB tmpfs: failed after {:.2} s \
         with {on_full_disk} whole files and no temporary file; with room: {} whole files, \
         manifest exact",
        needed / 1024,
        needed / 2 / 1024,
        failed_in.as_secs_f64(),
        check.whole
    );
}

// ---------------------------------------------------------------------------------------
// kill -9 during statistics writes under load
// ---------------------------------------------------------------------------------------

/// Readers that poll until `stop`, each poll from a new (address, User-Agent) pair; counts
/// the polls answered 200.
struct Readers {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Readers {
    fn start(addr: SocketAddr, next: &Arc<AtomicU64>, threads: usize) -> Readers {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let threads = (0..threads)
            .map(|_| {
                let (stop, served, next) =
                    (Arc::clone(&stop), Arc::clone(&served), Arc::clone(next));
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let agent = format!("reader-{n}/1.0");
                        let source = reader_address(70 + (n % 8) as u8, n / 8);
                        let status = try_poll_from(&runtime, source, addr, "/rss.xml", &agent);
                        if status.is_ok_and(|s| s == 200) {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        Readers {
            stop,
            served,
            threads,
        }
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// How long before a kill a poll is answered to be written in time, when the writer keeps
/// up (it writes once a second); kills after which such polls are missing are counted.
const SURVIVES: Duration = Duration::from_millis(2500);

/// The figures of a kill loop over statistics writes.
#[derive(Debug, Default)]
struct StatsKillFigures {
    kills: usize,
    served: u64,
    recorded: u64,
    readers: u64,
    dropped: u64,
    integrity_ok: usize,
    max_lost: u64,
    /// Kills before which polls answered [`SURVIVES`] earlier were not written yet.
    behind: usize,
}

/// Serves with statistics on while readers poll as new clients, kills the server at a
/// random moment, and checks the database: it opens, `integrity_check` is `ok`, every
/// figure is at least what the database held right before the kill (and what it held
/// after the kill before), and the polls lost are at most what the writer holds in memory
/// (a batch and the queue; polls counted as dropped are not lost).
fn stats_kill_loop(iterations: usize) -> StatsKillFigures {
    let ws = ops_workspace("");
    let db = ws.path("feedpub-stats.sqlite");
    let next = Arc::new(AtomicU64::new(0));
    let mut figures = StatsKillFigures::default();
    let mut after_last_kill = (0, 0);
    let mut dropped_last_kill = 0;
    for round in 0..iterations {
        let server = start(&ws);
        let readers = Readers::start(server.addr(), &next, 4);
        // Until some polls are written, then on for a random time up to 2 s.
        wait_until(Duration::from_secs(20), "polls to be written", || {
            recorded(&db).0 > after_last_kill.0
        });
        std::thread::sleep(Duration::from_millis(rand_u64() % 1500));
        // Every poll answered by now is written within 2.5 s (a batch a second).
        let served_early = readers.served();
        std::thread::sleep(SURVIVES);
        let seen_before = recorded(&db);
        drop(server); // SIGKILL
        let served = readers.served();
        readers.stop();
        figures.kills += 1;
        let check = integrity(&db);
        assert_eq!(check, "ok", "after kill #{round}");
        figures.integrity_ok += 1;
        let after = recorded(&db);
        assert!(
            after.0 >= seen_before.0 && after.1 >= seen_before.1,
            "after kill #{round}: {after:?} < {seen_before:?} seen before the kill"
        );
        assert!(
            after.0 >= after_last_kill.0 && after.1 >= after_last_kill.1,
            "after kill #{round}: {after:?} < {after_last_kill:?} after the kill before"
        );
        let dropped = dropped_polls(&db);
        let accounted = after.0 - after_last_kill.0 + dropped - dropped_last_kill;
        // What the writer holds in memory at most: a full batch and a full queue.
        let lost = served.saturating_sub(accounted);
        assert!(
            lost <= (feedpub::stats::store::MAX_BATCH_KEYS + feedpub::stats::recorder::QUEUE)
                as u64,
            "after kill #{round}: {lost} polls lost of {served}, more than a batch and a queue"
        );
        if accounted < served_early {
            figures.behind += 1;
        }
        figures.served += served;
        figures.max_lost = figures.max_lost.max(lost);
        after_last_kill = after;
        dropped_last_kill = dropped;
    }
    figures.dropped = dropped_last_kill;
    figures.recorded = after_last_kill.0;
    figures.readers = after_last_kill.1;
    figures
}

/// 3 kills here; `reliability/kill9.sh --stats` runs 100 against the release build.
#[test]
fn kill_9_during_statistics_writes_keeps_the_database_whole_and_the_figures_monotonic() {
    let iterations = env_number("FEEDPUB_KILL9_STATS_ITERATIONS", 3);
    let started = Instant::now();
    let f = stats_kill_loop(iterations);
    println!(
        "kill -9 stats: {} kills, {} integrity_check ok, {} polls served, {} recorded \
         ({} distinct readers), {} counted as dropped, {} lost in all (the batches in memory \
         at the kills), at most {} in one kill; {} kills found polls answered {:?} earlier \
         not written yet, {:.0} s",
        f.kills,
        f.integrity_ok,
        f.served,
        f.recorded,
        f.readers,
        f.dropped,
        f.served - f.recorded - f.dropped,
        f.max_lost,
        f.behind,
        SURVIVES,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// The statistics database: locked, read-only, deleted
// ---------------------------------------------------------------------------------------

const DROPPED: &str = "statistics dropped";
const WRITTEN_AGAIN: &str = "statistics are written again";

/// A server with statistics on and the database in `stats/` (so that the folder can be
/// faulted on its own).
fn stats_server() -> (Workspace, ServerProcess, PathBuf) {
    let ws = ops_workspace("stats_db = \"stats/feedpub-stats.sqlite\"");
    fs::create_dir_all(ws.path("stats")).unwrap();
    let server = start(&ws);
    let db = ws.path("stats/feedpub-stats.sqlite");
    (ws, server, db)
}

/// Polls as new readers until the writer's next batch fails (the warning), at most 20 s;
/// every poll is served.
fn polls_until_dropped(server: &ServerProcess, tag: &str) {
    let started = Instant::now();
    let mut n = 0u64;
    while count_in_log(server, DROPPED) == 0 {
        let status = poll_from(
            reader_address(61, n),
            server.addr(),
            "/rss.xml",
            &format!("{tag}-{n}/1.0"),
        );
        assert_eq!(status, 200, "poll {n} while the database is faulted");
        n += 1;
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no warning after {n} polls: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// After a fault cleared: new polls are recorded and the log says so.
fn recording_resumes(server: &ServerProcess, db: &Path, tag: &str) {
    let before = recorded(db).0;
    polls_served(server, tag, 30);
    wait_until(
        Duration::from_secs(15),
        "the polls to be recorded again",
        || recorded(db).0 >= before + 30,
    );
    wait_until(Duration::from_secs(5), "the log to say so", || {
        count_in_log(server, WRITTEN_AGAIN) >= 1
    });
}

/// The writer's one warning, whatever the number of failed writes.
fn assert_one_warning(server: &ServerProcess) {
    let log = server.stderr();
    assert_eq!(log.matches(DROPPED).count(), 1, "{log}");
    assert_no_panic(server);
}

#[test]
fn a_statistics_database_locked_by_another_process_drops_statistics_once_and_resumes() {
    let (_ws, server, db) = stats_server();
    polls_served(&server, "before", 20);
    wait_until(Duration::from_secs(10), "the first polls", || {
        recorded(&db).0 >= 20
    });
    // Another process holds the write lock (an exclusive transaction) for 6 s.
    let mut holder = Command::new("sqlite3")
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sqlite3 runs");
    {
        use std::io::Write;
        let stdin = holder.stdin.as_mut().unwrap();
        writeln!(
            stdin,
            "BEGIN EXCLUSIVE; INSERT INTO dropped VALUES ('1970-01-01', 0);"
        )
        .unwrap();
        stdin.flush().unwrap();
    }
    polls_until_dropped(&server, "locked");
    // Several failed writes (one a second, each after its 2 s busy wait): one warning.
    polls_served(&server, "still-locked", 60);
    std::thread::sleep(Duration::from_secs(3));
    assert_one_warning(&server);
    {
        use std::io::Write;
        let stdin = holder.stdin.as_mut().unwrap();
        writeln!(stdin, "ROLLBACK;").unwrap();
    }
    drop(holder.stdin.take());
    holder.wait().unwrap();
    recording_resumes(&server, &db, "after");
    assert_one_warning(&server);
    drop(server);
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn a_statistics_database_made_read_only_while_serving_drops_statistics_once_and_resumes() {
    let (_ws, server, db) = stats_server();
    polls_served(&server, "before", 20);
    wait_until(Duration::from_secs(10), "the first polls", || {
        recorded(&db).0 >= 20
    });
    let files: Vec<PathBuf> = ["", "-wal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", db.display())))
        .collect();
    if !immutable(&files, true) {
        eprintln!("SKIPPED: chattr +i is not possible here");
        return;
    }
    // Unset even when an assertion fails, so that the folder can be removed.
    struct Mutable(Vec<PathBuf>);
    impl Drop for Mutable {
        fn drop(&mut self) {
            immutable(&self.0, false);
        }
    }
    let guard = Mutable(files);
    polls_until_dropped(&server, "read-only");
    polls_served(&server, "still-read-only", 60);
    std::thread::sleep(Duration::from_secs(3));
    assert_one_warning(&server);
    drop(guard);
    recording_resumes(&server, &db, "after");
    assert_one_warning(&server);
    drop(server);
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn a_statistics_database_deleted_while_serving_is_made_again_with_one_warning() {
    let (_ws, server, db) = stats_server();
    polls_served(&server, "before", 20);
    wait_until(Duration::from_secs(10), "the first polls", || {
        recorded(&db).0 >= 20
    });
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", db.display()));
    }
    // Polls go on being served, and land in a database at the configured path again.
    let started = Instant::now();
    let mut n = 0;
    // (While the new database is being made, it may not have its tables yet.)
    while try_recorded(&db).map_or(true, |(polls, _)| polls < 10) {
        polls_served(&server, &format!("after-{n}"), 10);
        n += 1;
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no database at {} again after the deletion; log:\n{}",
            db.display(),
            server.stderr()
        );
    }
    polls_served(&server, "later", 30);
    std::thread::sleep(Duration::from_secs(2));
    let log = server.stderr();
    assert_eq!(
        log.matches("statistics database was removed").count(),
        1,
        "{log}"
    );
    assert_no_panic(&server);
    drop(server);
    assert_eq!(integrity(&db), "ok");
}

// ---------------------------------------------------------------------------------------
// TLS certificate files removed or garbage before a SIGHUP
// ---------------------------------------------------------------------------------------

/// A real TLS handshake (trusting only `ca`) and `GET /rss.xml` over HTTP/1.1: the
/// certificate the server presented and the status.
fn tls_visit(addr: SocketAddr, ca: &Ca) -> (Vec<u8>, u16) {
    let seen = visit(addr, ca, &[b"http/1.1"], "/rss.xml");
    let status = seen.response.expect("an HTTP/1.1 answer").status;
    (seen.certificate, status)
}

#[test]
fn tls_files_removed_or_garbage_at_sighup_keep_the_old_certificate_until_good_ones_come() {
    const KEPT: &str = "the certificate in use stays";
    let ca = Ca::new();
    let first = ca.issue("first");
    let ws = ops_workspace("stats = false\ntls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"");
    let (cert, key) = (ws.path("tls/cert.pem"), ws.path("tls/key.pem"));
    let write = |identity: &Identity| {
        fs::create_dir_all(ws.path("tls")).unwrap();
        fs::write(&cert, &identity.cert_pem).unwrap();
        fs::write(&key, &identity.key_pem).unwrap();
    };
    write(&first);
    let server = start(&ws);
    let addr = server.addr();
    wait_until_catching(server.pid(), libc::SIGHUP, START);
    assert_eq!(tls_visit(addr, &ca), (first.der.clone(), 200));

    let garbage = |path: &Path| fs::write(path, b"\x00\x01 not PEM at all \xff\n").unwrap();
    type Fault<'a> = (&'a str, &'a Path, Box<dyn Fn() + 'a>);
    let faults: Vec<Fault> = vec![
        (
            "certificate removed",
            &cert,
            Box::new(|| fs::remove_file(&cert).unwrap()),
        ),
        (
            "key removed",
            &key,
            Box::new(|| fs::remove_file(&key).unwrap()),
        ),
        (
            "both removed (the folder too)",
            &cert,
            Box::new(|| fs::remove_dir_all(ws.path("tls")).unwrap()),
        ),
        ("certificate garbage", &cert, Box::new(|| garbage(&cert))),
        ("key garbage", &key, Box::new(|| garbage(&key))),
        (
            "both garbage",
            &cert,
            Box::new(|| {
                garbage(&cert);
                garbage(&key);
            }),
        ),
        (
            "both empty",
            &cert,
            Box::new(|| {
                fs::write(&cert, b"").unwrap();
                fs::write(&key, b"").unwrap();
            }),
        ),
    ];
    for (what, named, fault) in &faults {
        write(&first);
        fault();
        let before = count_in_log(&server, KEPT);
        server.hup();
        wait_until(
            Duration::from_secs(20),
            "the failed reload to be logged",
            || count_in_log(&server, KEPT) > before,
        );
        let log = server.stderr();
        let line = log
            .lines()
            .filter(|l| l.contains(KEPT))
            .nth(before)
            .unwrap();
        assert!(
            line.contains(&*named.to_string_lossy()),
            "{what}: the error names {}: {line}",
            named.display()
        );
        assert_eq!(
            count_in_log(&server, KEPT),
            before + 1,
            "{what}: one error per SIGHUP"
        );
        assert_eq!(
            tls_visit(addr, &ca),
            (first.der.clone(), 200),
            "{what}: the old certificate is presented and feeds are served"
        );
    }
    // Good files again, a new identity: the next SIGHUP loads it.
    let second = ca.issue("second");
    write(&second);
    server.hup();
    wait_until(Duration::from_secs(20), "the new certificate", || {
        tls_visit(addr, &ca).0 == second.der
    });
    assert_eq!(tls_visit(addr, &ca), (second.der.clone(), 200));
    assert_no_panic(&server);
}

// ---------------------------------------------------------------------------------------
// The access log: a full disk; deleted without a SIGHUP
// ---------------------------------------------------------------------------------------

/// The access log's lines; every one must be a whole line (ends in the User-Agent's
/// closing quote).
fn access_lines(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a cut last line: {:?}",
        &text[text.len().saturating_sub(120)..]
    );
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    for line in &lines {
        assert!(
            line.starts_with("127.") && line.ends_with('"') && line.matches(" - - [").count() == 1,
            "not one whole combined line: {line:?}"
        );
    }
    lines
}

#[test]
fn the_access_log_on_a_full_disk_warns_once_and_resumes_when_space_returns() {
    const LOST: &str = "cannot write the access log";
    let ws = ops_workspace("stats = false\naccess_log = \"logs/access.log\"");
    let Some(_tmpfs) = Tmpfs::mount(&ws.path("logs"), "64k") else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here");
        return;
    };
    let server = start(&ws);
    let log = ws.path("logs/access.log");
    polls_served(&server, "before", 5);
    wait_until(Duration::from_secs(10), "the first lines", || {
        access_lines(&log).len() >= 5
    });
    // Fill the disk but for a few hundred bytes, so that a batch of lines is cut.
    let filler = ws.path("logs/filler");
    let free = || {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(ws.path("logs"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let _ = fs::write(&filler, vec![b'x'; 256 * 1024]);
    assert_eq!(free(), 0, "the disk is full");
    let mut n = 0;
    while count_in_log(&server, LOST) == 0 {
        polls_served(&server, &format!("full-{n}"), 5);
        n += 1;
        assert!(n < 200, "no warning: {}", server.stderr());
    }
    polls_served(&server, "still-full", 60);
    std::thread::sleep(Duration::from_millis(500));
    let stderr = server.stderr();
    assert_eq!(stderr.matches(LOST).count(), 1, "{stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
    // Room again: new lines come, and every line in the file is whole.
    fs::remove_file(&filler).unwrap();
    polls_served(&server, "after", 5);
    wait_until(
        Duration::from_secs(10),
        "lines after the disk emptied",
        || {
            access_lines(&log)
                .iter()
                .filter(|l| l.contains("\"after-"))
                .count()
                == 5
        },
    );
    let lines = access_lines(&log);
    assert!(lines.iter().any(|l| l.contains("\"before-0/1.0\"")));
    assert_eq!(server.stderr().matches(LOST).count(), 1);
    assert_no_panic(&server);
}

#[test]
fn an_access_log_deleted_without_sighup_keeps_feeds_served_and_sighup_makes_it_again() {
    let ws = ops_workspace("stats = false\naccess_log = \"access.log\"");
    let server = start(&ws);
    wait_until_catching(server.pid(), libc::SIGHUP, START);
    let log = ws.path("access.log");
    polls_served(&server, "before", 5);
    wait_until(Duration::from_secs(10), "the first lines", || {
        access_lines(&log).len() >= 5
    });
    fs::remove_file(&log).unwrap();
    // Lines go to the deleted file (as with nginx) until a SIGHUP reopens the path.
    polls_served(&server, "deleted", 30);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!log.exists());
    server.hup();
    wait_until(Duration::from_secs(10), "the log to be reopened", || {
        server.stderr().contains("access log reopened")
    });
    polls_served(&server, "after", 5);
    wait_until(Duration::from_secs(10), "lines in the new file", || {
        access_lines(&log).len() >= 5
    });
    let lines = access_lines(&log);
    assert!(lines.iter().all(|l| l.contains("\"after-")), "{lines:?}");
    let stderr = server.stderr();
    assert!(
        !stderr.contains("cannot write the access log") && !stderr.contains("cannot reopen"),
        "{stderr}"
    );
    assert_no_panic(&server);
}

/// A kill can fall between the renames of a page's plain file and of its precompressed
/// variants (they are written in parallel, in no set order), leaving the new page with the
/// old variants. The next build must not keep such variants because the plain file holds
/// the right bytes: a static server would send the old page to every reader that accepts
/// gzip or brotli, for as long as the page does not change.
#[test]
fn variants_left_from_another_generation_by_a_kill_are_made_again_by_the_next_build() {
    let ws = Workspace::empty("");
    for n in 0..3 {
        let (name, text) = build_article(n + 1, 0);
        ws.write_article(&name, &text);
    }
    let build = || assert_eq!(run_with_config("build", &ws.config).code, 0);
    build();
    let page = site_files(&ws.output)
        .into_iter()
        .find(|n| {
            n.starts_with("articles/") && n.ends_with(".html") && n.contains("00002")
                || n.starts_with("articles/")
                    && n.ends_with(".html")
                    && ws.output.join(format!("{n}.br")).exists()
        })
        .expect("an article page with variants");
    let variants = [format!("{page}.gz"), format!("{page}.br")];
    let old: Vec<Vec<u8>> = variants
        .iter()
        .map(|v| fs::read(ws.output.join(v)).expect("the page's variants"))
        .collect();
    // A new version of every article; the build that writes it is "killed" after the plain
    // file's rename, before the variants': the old variants are put back.
    for n in 0..3 {
        let (name, text) = build_article(n + 1, 1);
        ws.write_article(&name, &text);
    }
    build();
    for (variant, bytes) in variants.iter().zip(&old) {
        fs::write(ws.output.join(variant), bytes).unwrap();
    }
    // A publish stopped midway leaves its mark, which makes the next one check the variants.
    fs::write(ws.output.join(".feedpub-writing"), "").unwrap();
    assert_eq!(
        check_site(&ws.output).mixed.len(),
        2,
        "the state a kill leaves"
    );
    build();
    let check = check_site(&ws.output);
    assert_eq!(
        check.mixed,
        Vec::<String>::new(),
        "{page}: variants of another generation kept"
    );
    assert!(
        !ws.output.join(".feedpub-writing").exists(),
        "a publish that ran to its end leaves no mark"
    );
}
