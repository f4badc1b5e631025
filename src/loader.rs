//! The loader: the only code that reads the articles folder.
//!
//! It lists every regular file (no hidden files, no folders, no symlink leading outside the
//! folder), reads and parses the ones that changed since the last scan, and returns the
//! articles with every rejected file. Parsed articles are kept keyed by path with a cheap
//! fingerprint (size and modification time) confirmed by a content hash, so a rescan costs
//! what changed, not what exists.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::article::{Article, ArticleError, Diagnostic, Parsed};

/// Why the folder itself could not be loaded (as opposed to one bad article).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The articles folder is missing or unreadable.
    #[error("{}: cannot read the articles folder: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// What one scan found.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Published articles, one per identity, sorted by path.
    pub articles: Vec<Arc<Article>>,
    /// Files that were rejected, sorted by path.
    pub rejected: Vec<ArticleError>,
    /// Warnings: repaired input and duplicate scrapes, sorted by path.
    pub warnings: Vec<Diagnostic>,
    /// Files that were read in this scan (new or changed since the last one).
    pub files_read: usize,
    /// Files that were parsed (their content hash was new).
    pub files_parsed: usize,
    /// Files that changed while being read, or so recently that they may still be being
    /// written; they are read again at the next scan.
    pub unsettled: Vec<PathBuf>,
    /// Drafts: valid articles that are not published.
    pub drafts: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
}

impl Fingerprint {
    fn of(meta: &fs::Metadata) -> Fingerprint {
        Fingerprint {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    fingerprint: Fingerprint,
    /// A file modified within the clock's resolution of the scan may change again without
    /// its fingerprint changing; such an entry is read again at the next scan.
    racy: bool,
    hash: Option<[u8; 32]>,
    /// The article (shared with every snapshot that publishes it, so an unchanged file
    /// costs no copy) and its warnings, or why it was rejected.
    outcome: Result<(Arc<Article>, Arc<[Diagnostic]>), ArticleError>,
}

/// One parsed file among those that share an identity.
type Scrape<'a> = (&'a PathBuf, &'a Entry, &'a Arc<Article>);

/// Reads an articles folder, remembering what it parsed between scans.
#[derive(Debug)]
pub struct Loader {
    dir: PathBuf,
    max_bytes: u64,
    cache: HashMap<PathBuf, Entry>,
    /// Whether a scan has run: only later scans wait for files to settle.
    scanned: bool,
    /// Files held back because they changed moments ago, with the scan that first did.
    held: HashMap<PathBuf, SystemTime>,
}

/// A file modified less than this long ago may still be being written in place, in pieces;
/// scans after the first leave it for a later scan (keeping what it held before), so that
/// half a file is not published. The first scan (`build`, `serve` at start) reads it. An
/// empty file is held back the same way: a rewrite truncates it first, and a `stat` racing
/// the truncation can see the new size with the old modification time.
const SETTLE: Duration = Duration::from_millis(200);

/// A file that keeps changing is read anyway once it has been held back this long, so that
/// constant rewrites cannot keep its changes out of the feeds.
const MAX_HOLD: Duration = Duration::from_millis(1000);

enum Candidate {
    File(PathBuf, fs::Metadata),
    Rejected(PathBuf, ArticleError),
}

impl Loader {
    /// A loader of the folder `dir` that rejects files larger than `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Loader {
        Loader {
            dir: dir.into(),
            max_bytes,
            cache: HashMap::new(),
            scanned: false,
            held: HashMap::new(),
        }
    }

    /// The folder this loader reads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Scans the folder once: reads what changed, keeps what did not.
    pub fn scan(&mut self) -> Result<LoadReport, LoadError> {
        self.scan_with_progress(&|_, _| {})
    }

    /// Like [`scan`](Loader::scan), calling `progress(done, total)` as files are examined
    /// (from several threads).
    pub fn scan_with_progress(
        &mut self,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<LoadReport, LoadError> {
        let scan_start = SystemTime::now();
        let folder_error = |source| LoadError::Folder {
            path: self.dir.clone(),
            source,
        };
        let canonical_dir = fs::canonicalize(&self.dir).map_err(folder_error)?;
        let listing = fs::read_dir(&self.dir).map_err(folder_error)?;

        // Listing is serial and cheap; classifying (stat, symlink checks) and reading run in
        // parallel below.
        let mut listed = Vec::new();
        for entry in listing {
            let entry = entry.map_err(folder_error)?;
            let name = entry.file_name();
            let name_text = name.to_string_lossy();
            if name_text.starts_with('.') || name_text.ends_with('~') {
                continue;
            }
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if !file_type.is_dir() {
                listed.push((self.dir.join(&name), file_type.is_symlink()));
            }
        }
        let total = listed.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let classify = |path: PathBuf, is_symlink: bool| -> Option<Candidate> {
            let rejected = |path: PathBuf, message: String| {
                Some(Candidate::Rejected(
                    path.clone(),
                    ArticleError::Unreadable { path, message },
                ))
            };
            if is_symlink {
                match fs::canonicalize(&path) {
                    Ok(target) if target.starts_with(&canonical_dir) => {}
                    Ok(_) => {
                        return rejected(
                            path,
                            "symbolic link leads outside the articles folder".into(),
                        )
                    }
                    Err(e) => return rejected(path, format!("broken symbolic link: {e}")),
                }
            }
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => Some(Candidate::File(path, meta)),
                Ok(_) => None,
                Err(e) => rejected(path, e.to_string()),
            }
        };

        let max_bytes = self.max_bytes;
        let wait_to_settle = self.scanned;
        let held = &self.held;
        let cache = &self.cache;
        let results: Vec<(PathBuf, Option<Entry>, bool)> = listed
            .into_par_iter()
            .filter_map(|(path, is_symlink)| {
                let candidate = classify(path, is_symlink);
                progress(
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                    total,
                );
                candidate
            })
            .map(|candidate| match candidate {
                Candidate::Rejected(path, error) => {
                    let entry = Entry {
                        fingerprint: Fingerprint {
                            len: 0,
                            modified: None,
                        },
                        racy: true,
                        hash: None,
                        outcome: Err(error),
                    };
                    (path, Some(entry), false)
                }
                Candidate::File(path, meta) => {
                    let fingerprint = Fingerprint::of(&meta);
                    let cached = cache.get(&path);
                    if let Some(old) = cached {
                        if old.fingerprint == fingerprint && !old.racy {
                            return (path, Some(old.clone()), false);
                        }
                    }
                    let held_long = held.get(&path).is_some_and(|since| {
                        scan_start
                            .duration_since(*since)
                            .is_ok_and(|d| d >= MAX_HOLD)
                    });
                    let settling =
                        fingerprint.len == 0 || is_recent(fingerprint.modified, scan_start);
                    if wait_to_settle && !held_long && settling {
                        return (path, cached.cloned(), true);
                    }
                    let entry = read_entry(&path, fingerprint, max_bytes, cached);
                    match entry {
                        // Changed while being read: keep what we had, read again next time.
                        None => (path, cached.cloned(), true),
                        Some(mut entry) => {
                            entry.racy = is_racy(entry.fingerprint.modified, scan_start);
                            (path, Some(entry), false)
                        }
                    }
                }
            })
            .collect();

        let mut report = LoadReport::default();
        let mut new_cache = HashMap::with_capacity(results.len());
        let mut new_held = HashMap::new();
        for (path, entry, unsettled) in results {
            if unsettled {
                report.unsettled.push(path.clone());
                let since = self.held.get(&path).copied().unwrap_or(scan_start);
                new_held.insert(path.clone(), since);
            }
            if let Some(entry) = entry {
                let previous_hash = self.cache.get(&path).and_then(|e| e.hash);
                let reused = self
                    .cache
                    .get(&path)
                    .is_some_and(|e| e.fingerprint == entry.fingerprint && !e.racy);
                if !reused && !unsettled {
                    report.files_read += 1;
                    if entry.hash.is_none() || entry.hash != previous_hash {
                        report.files_parsed += 1;
                    }
                }
                new_cache.insert(path, entry);
            }
        }
        self.cache = new_cache;
        self.held = new_held;
        self.scanned = true;
        self.fill_report(&mut report);
        Ok(report)
    }

    /// Chooses one scrape per identity and sorts everything by path.
    fn fill_report(&self, report: &mut LoadReport) {
        let mut by_id: BTreeMap<&str, Vec<Scrape>> = BTreeMap::new();
        let mut paths: Vec<&PathBuf> = self.cache.keys().collect();
        paths.sort();
        for path in paths {
            let entry = &self.cache[path];
            match &entry.outcome {
                Ok((article, _)) if article.draft => report.drafts += 1,
                Ok((article, warnings)) => {
                    report.warnings.extend(warnings.iter().cloned());
                    by_id
                        .entry(article.id.as_str())
                        .or_default()
                        .push((path, entry, article));
                }
                Err(error) => report.rejected.push(error.clone()),
            }
        }
        for (id, mut scrapes) in by_id {
            // The later scrape wins: more views, else the newer file, else the later name.
            scrapes.sort_by(|a, b| {
                (b.2.views, b.1.fingerprint.modified, b.0).cmp(&(
                    a.2.views,
                    a.1.fingerprint.modified,
                    a.0,
                ))
            });
            let (kept_path, _, kept) = scrapes[0];
            for (other_path, _, _) in &scrapes[1..] {
                report.warnings.push(Diagnostic {
                    path: (*other_path).clone(),
                    line: None,
                    message: format!(
                        "duplicate of article {id}: {} is the later scrape and is published instead",
                        kept_path.display()
                    ),
                });
            }
            report.articles.push(Arc::clone(kept));
        }
        report.articles.sort_by(|a, b| a.path.cmp(&b.path));
        report
            .warnings
            .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    }
}

/// Modified less than [`SETTLE`] before `now` (or as little after it, for a clock that is
/// slightly off; a time far in the future does not hold a file back).
fn is_recent(modified: Option<SystemTime>, now: SystemTime) -> bool {
    match modified.map(|m| now.duration_since(m)) {
        Some(Ok(age)) => age < SETTLE,
        Some(Err(ahead)) => ahead.duration() < SETTLE,
        None => false,
    }
}

fn is_racy(modified: Option<SystemTime>, scan_start: SystemTime) -> bool {
    match modified {
        Some(m) => m + Duration::from_secs(2) >= scan_start,
        None => true,
    }
}

/// Reads and parses one file. `None` when the file changed while it was read.
fn read_entry(
    path: &Path,
    fingerprint: Fingerprint,
    max_bytes: u64,
    cached: Option<&Entry>,
) -> Option<Entry> {
    let entry = |hash, outcome| {
        Some(Entry {
            fingerprint,
            racy: false,
            hash,
            outcome,
        })
    };
    let unreadable = |e: std::io::Error| ArticleError::Unreadable {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if fingerprint.len > max_bytes {
        return entry(
            None,
            Err(ArticleError::TooLarge {
                path: path.to_path_buf(),
                size: fingerprint.len,
                limit: max_bytes,
            }),
        );
    }
    let mut bytes = Vec::with_capacity(fingerprint.len as usize);
    let read =
        fs::File::open(path).and_then(|file| file.take(max_bytes + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return entry(None, Err(unreadable(e)));
    }
    match fs::metadata(path) {
        Ok(after)
            if Fingerprint::of(&after) == fingerprint && bytes.len() as u64 == fingerprint.len => {}
        Ok(_) => return None,
        Err(e) => return entry(None, Err(unreadable(e))),
    }
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    if let Some(old) = cached {
        if old.hash == Some(hash) {
            return entry(Some(hash), old.outcome.clone());
        }
    }
    entry(
        Some(hash),
        Article::from_bytes(path, &bytes)
            .map(|Parsed { article, warnings }| (Arc::new(article), warnings.into())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        fs::write(dir.join(name), text).unwrap();
    }

    fn article(title: &str, number: u32, views: u32) -> String {
        format!("1 May 2020\n{title}\n\nBody.\n\n10:00 - 2020/05/01 / number : {number} / Show Count : {views}\n")
    }

    #[test]
    fn skips_hidden_files_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", &article("A", 1, 1));
        write(dir.path(), ".hidden.txt", &article("H", 2, 1));
        fs::create_dir(dir.path().join("sub")).unwrap();
        write(&dir.path().join("sub"), "b.txt", &article("B", 3, 1));
        let report = Loader::new(dir.path(), 1 << 20).scan().unwrap();
        let titles: Vec<_> = report.articles.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, vec!["A"]);
    }

    #[test]
    fn duplicate_scrape_keeps_more_views() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", &article("Old", 7, 100));
        write(dir.path(), "b.txt", &article("New", 7, 50));
        write(dir.path(), "c.txt", &article("Newest", 7, 900));
        let report = Loader::new(dir.path(), 1 << 20).scan().unwrap();
        assert_eq!(report.articles.len(), 1);
        assert_eq!(report.articles[0].title, "Newest");
        assert_eq!(report.warnings.len(), 2);
        assert!(report.warnings[0]
            .message
            .contains("duplicate of article 7"));
    }

    #[test]
    fn rescan_reads_only_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            write(dir.path(), &format!("{i}.txt"), &article("T", i, 1));
            let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
            filetime::set_file_mtime(dir.path().join(format!("{i}.txt")), old).unwrap();
        }
        let mut loader = Loader::new(dir.path(), 1 << 20);
        assert_eq!(loader.scan().unwrap().files_read, 5);
        assert_eq!(loader.scan().unwrap().files_read, 0);
        write(dir.path(), "2.txt", &article("Changed", 2, 1));
        // Modified just now: left for a later scan, the old version kept.
        let report = loader.scan().unwrap();
        assert_eq!(report.unsettled.len(), 1);
        assert!(report.articles.iter().all(|a| a.title != "Changed"));
        std::thread::sleep(SETTLE);
        let report = loader.scan().unwrap();
        assert_eq!((report.files_read, report.files_parsed), (1, 1));
        assert!(report.articles.iter().any(|a| a.title == "Changed"));
        fs::remove_file(dir.path().join("3.txt")).unwrap();
        assert_eq!(loader.scan().unwrap().articles.len(), 4);
    }

    #[test]
    fn a_file_emptied_with_an_old_modification_time_is_held_back_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        write(dir.path(), "a.txt", &article("A", 1, 1));
        filetime::set_file_mtime(&path, old).unwrap();
        let mut loader = Loader::new(dir.path(), 1 << 20);
        assert_eq!(loader.scan().unwrap().articles.len(), 1);
        // What a stat racing `open(O_TRUNC)` can see: no bytes, the old time.
        write(dir.path(), "a.txt", "");
        filetime::set_file_mtime(&path, old).unwrap();
        let report = loader.scan().unwrap();
        assert_eq!(report.articles.len(), 1, "the last version is kept");
        assert_eq!(report.unsettled.len(), 1);
        std::thread::sleep(MAX_HOLD);
        let report = loader.scan().unwrap();
        assert!(
            report.articles.is_empty(),
            "a file that stays empty is read"
        );
        assert!(matches!(report.rejected[0], ArticleError::Empty { .. }));
    }

    #[test]
    fn oversized_and_bad_files_are_rejected_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "good.txt", &article("Good", 1, 1));
        write(dir.path(), "big.txt", &"x".repeat(2000));
        write(dir.path(), "empty.txt", "");
        let report = Loader::new(dir.path(), 1000).scan().unwrap();
        assert_eq!(report.articles.len(), 1);
        assert!(matches!(
            report.rejected[0],
            ArticleError::TooLarge { size: 2000, .. }
        ));
        assert!(matches!(report.rejected[1], ArticleError::Empty { .. }));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_outside_the_folder_is_rejected() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", &article("Secret", 9, 1));
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "inside.txt", &article("Inside", 1, 1));
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("link.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.path().join("inside.txt"), dir.path().join("alias.txt"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path().join("loop.txt"), dir.path().join("loop.txt"))
            .unwrap();
        let report = Loader::new(dir.path(), 1 << 20).scan().unwrap();
        assert!(report.articles.iter().all(|a| a.title != "Secret"));
        assert_eq!(report.rejected.len(), 2, "{:?}", report.rejected);
    }

    #[test]
    fn markdown_articles_load_beside_text_and_drafts_are_not_published() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", &article("Text", 1, 1));
        write(
            dir.path(),
            "post.md",
            "+++\ntitle = \"Markdown\"\ndate = 2024-01-01\n+++\nHello *world*.\n",
        );
        write(
            dir.path(),
            "draft.md",
            "---\ntitle: Draft\ndate: 2024-01-02\ndraft: true\n---\nNot yet.\n",
        );
        write(
            dir.path(),
            "broken.md",
            "+++\ntitle = \"Broken\"\ndate = \n+++\n",
        );
        let report = Loader::new(dir.path(), 1 << 20).scan().unwrap();
        let mut titles: Vec<_> = report.articles.iter().map(|a| a.title.as_str()).collect();
        titles.sort();
        assert_eq!(titles, vec!["Markdown", "Text"]);
        assert_eq!(report.drafts, 1);
        assert_eq!(report.rejected.len(), 1);
        assert!(
            report.rejected[0].to_string().contains("broken.md:3:"),
            "{}",
            report.rejected[0]
        );
    }

    #[test]
    fn missing_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Loader::new(dir.path().join("nope"), 1 << 20)
            .scan()
            .unwrap_err();
        assert!(err.to_string().contains("nope"));
    }
}
