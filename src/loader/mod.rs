//! The loader: the only code that reads the articles folder.
//!
//! It lists every regular file (no hidden files, no folders, no symlink leading outside the
//! folder), reads and parses the ones that changed since the last scan, and returns the
//! articles with every rejected file ([`Loader::scan`]). Parsed articles are kept keyed by
//! path with a cheap fingerprint (size and modification time) confirmed by a content hash
//! (xxh3-128), so a rescan reads what changed, not what exists.
//!
//! A refresh of named files ([`Loader::refresh`] with [`Scope::Names`], the names that file
//! events give) looks at those files only, and says how the published articles changed
//! ([`Changes`]): its cost is that of the changed files, whatever the size of the folder.
//!
//! A server's loader can save what it parsed ([`Loader::with_saved_articles`],
//! [`Loader::save`]): its next start looks at each file's metadata instead of reading and
//! parsing the whole folder again.

mod saved;

pub use saved::{SavedError, FILE_NAME as SAVED_ARTICLES};

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::hash::BuildHasher;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hashbrown::HashTable;
use rayon::prelude::*;
use smallvec::SmallVec;

use crate::article::{Article, ArticleError, Diagnostic, Digest, Parsed, TextPlace};

/// Why the folder itself could not be loaded (as opposed to one bad article).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The articles folder holds more files than `max_articles` allows.
    #[error("{}: the articles folder holds more than {limit} files (max_articles); raise the limit if the machine has the memory for them", path.display())]
    TooManyFiles {
        /// The folder.
        path: PathBuf,
        /// The configured limit.
        limit: u64,
    },
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
    /// Files taken from the saved articles instead of being read.
    pub files_restored: usize,
    /// Files that changed while being read, or so recently that they may still be being
    /// written; they are read again at the next scan.
    pub unsettled: Vec<PathBuf>,
    /// Drafts: valid articles that are not published.
    pub drafts: usize,
}

/// Which files a refresh looks at.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The whole folder: it is listed, and files no longer listed are gone.
    All,
    /// Only these file names in the folder (the ones file events named): each is examined
    /// again, and is gone if it no longer exists. The cost is that of these files only.
    Names(&'a [OsString]),
}

/// How the published articles changed in one refresh.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// Articles newly published: new files, new versions of published articles (whose old
    /// version is in `withdrawn`), or scrapes that now win over another.
    pub published: Vec<Arc<Article>>,
    /// Articles no longer published as they were: deleted, replaced by a new version or by
    /// a later scrape, turned into drafts, or now rejected.
    pub withdrawn: Vec<Arc<Article>>,
}

impl Changes {
    /// Whether nothing published changed.
    pub fn is_empty(&self) -> bool {
        self.published.is_empty() && self.withdrawn.is_empty()
    }
}

/// What one refresh found: how the published articles changed, and the problems of the
/// files whose outcome changed (problems of unchanged files were reported before).
#[derive(Debug, Default, Clone)]
pub struct Refresh {
    /// How the published articles changed.
    pub changes: Changes,
    /// New warnings: repaired input, duplicate scrapes.
    pub warnings: Vec<Diagnostic>,
    /// Files newly rejected (or rejected for a new reason).
    pub rejected: Vec<ArticleError>,
    /// Files whose metadata was looked at.
    pub files_examined: usize,
    /// Files that were read (new or changed since the last refresh).
    pub files_read: usize,
    /// Files that were parsed (their content hash was new).
    pub files_parsed: usize,
    /// Files taken from the saved articles instead of being read
    /// ([`Loader::with_saved_articles`]).
    pub files_restored: usize,
    /// Files held back because they changed moments ago (or while being read); they should
    /// be refreshed again once they had time to settle.
    pub unsettled: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    /// When the file's status changed ([`saved::changed_nanos`]): a file rewritten with its
    /// old size and modification time still shows.
    changed: u64,
}

impl Fingerprint {
    fn of(meta: &fs::Metadata) -> Fingerprint {
        Fingerprint {
            len: meta.len(),
            modified: meta.modified().ok(),
            changed: saved::changed_nanos(meta),
        }
    }
}

/// The parsed article and its warnings, or why the file was rejected.
type Outcome = Result<(Arc<Article>, Arc<[Diagnostic]>), Box<ArticleError>>;

/// `warnings`, shared (without an allocation when there are none).
fn shared(warnings: Vec<Diagnostic>) -> Arc<[Diagnostic]> {
    if warnings.is_empty() {
        no_warnings()
    } else {
        warnings.into()
    }
}

/// The warnings of an article that has none: one shared allocation for them all.
fn no_warnings() -> Arc<[Diagnostic]> {
    static NONE: std::sync::OnceLock<Arc<[Diagnostic]>> = std::sync::OnceLock::new();
    Arc::clone(NONE.get_or_init(|| Arc::from([])))
}

#[derive(Debug, Clone)]
struct Entry {
    fingerprint: Fingerprint,
    /// A file modified within the clock's resolution of the scan may change again without
    /// its fingerprint changing; such an entry is read again at the next scan.
    racy: bool,
    hash: Option<Digest>,
    /// The article (shared with every snapshot that publishes it, so an unchanged file
    /// costs no copy) and its warnings, or why it was rejected.
    outcome: Outcome,
}

impl Entry {
    /// The article this file publishes (valid, not a draft).
    fn published(&self) -> Option<&Arc<Article>> {
        match &self.outcome {
            Ok((article, _)) if !article.draft => Some(article),
            _ => None,
        }
    }
}

/// Whether two outcomes are the same: the same parsed article, or the same rejection.
fn same_outcome(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok((a, _)), Ok((b, _))) => Arc::ptr_eq(a, b),
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}

/// What examining one file found.
enum Examined {
    /// Unchanged since the last refresh.
    Unchanged,
    /// Changed moments ago, or while being read: the last version is kept for now.
    Held,
    /// Read again (or rejected before reading).
    Read(Entry),
    /// Taken from the saved articles, unchanged since they were saved.
    Restored(Entry),
    /// No longer there (or no longer a file).
    Gone,
}

/// A map hashed with foldhash (seeded at random): the loader's maps have an entry per file,
/// and hashing paths with SipHash was a tenth of a restart's time.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The key of a file of the folder in the loader's maps: its name.
fn name_of(path: &Path) -> &OsStr {
    path.file_name().unwrap_or(path.as_os_str())
}

/// Reads an articles folder, remembering what it parsed between scans.
#[derive(Debug)]
pub struct Loader {
    dir: PathBuf,
    max_bytes: u64,
    settle: Duration,
    /// By file name (every file is in `dir`).
    cache: Map<OsString, Entry>,
    /// The articles parsed for each identity (more than one for duplicate scrapes), the
    /// published one first; found by the hash of the identity, which is not stored again.
    identities: HashTable<Scrapes>,
    /// Hashes identities for `identities`.
    id_hasher: foldhash::fast::RandomState,
    /// Whether a scan has run: only later scans wait for files to settle.
    scanned: bool,
    /// Files held back because they changed moments ago, with the scan that first did.
    held: Map<OsString, SystemTime>,
    /// Whether parsed articles leave their text in their files ([`Loader::with_text_in_files`]).
    text_in_files: bool,
    /// The most files the folder may hold ([`Loader::with_max_files`]).
    max_files: u64,
    /// Where the parsed articles are saved ([`Loader::with_saved_articles`]).
    saved_file: Option<PathBuf>,
    /// The saved articles, read for the first scan only.
    saved: Option<saved::Saved>,
    /// How many files were read or removed since the last save.
    unsaved: usize,
}

/// A file modified less than this long ago may still be being written in place, in pieces;
/// scans after the first leave it for a later scan (keeping what it held before), so that
/// half a file is not published. The first scan (`build`, `serve` at start) reads it. An
/// empty file is held back the same way: a rewrite truncates it first, and a `stat` racing
/// the truncation can see the new size with the old modification time. (The default;
/// see [`Loader::with_settle`].)
pub const SETTLE: Duration = Duration::from_millis(200);

/// A file that keeps changing is read anyway once it has been held back this long (plus the
/// settle time), so that constant rewrites cannot keep its changes out of the feeds.
const MAX_HOLD: Duration = Duration::from_millis(1000);

enum Candidate {
    File(PathBuf, fs::Metadata),
    Rejected(PathBuf, ArticleError),
    Gone(PathBuf),
}

/// Whether a file name is one the loader ignores: hidden files and editor backups.
fn ignored(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b".") || name.ends_with(b"~")
}

/// The articles parsed for one identity: almost always one, so it is kept inline.
type Scrapes = SmallVec<[Arc<Article>; 1]>;

impl Loader {
    /// A loader of the folder `dir` that rejects files larger than `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Loader {
        Loader {
            dir: dir.into(),
            max_bytes,
            settle: SETTLE,
            cache: Map::default(),
            identities: HashTable::new(),
            id_hasher: Default::default(),
            scanned: false,
            held: Map::default(),
            text_in_files: false,
            max_files: u64::MAX,
            saved_file: None,
            saved: None,
            unsaved: 0,
        }
    }

    /// The same loader, its first scan taking each unchanged file's article from `file`,
    /// where [`Loader::save`] saves them, instead of reading and parsing the file: a restart
    /// of a server then costs a look at each file's metadata. Only a loader that leaves the
    /// text in the files ([`Loader::with_text_in_files`]) saves or reads them.
    pub fn with_saved_articles(mut self, file: impl Into<PathBuf>) -> Loader {
        self.saved_file = Some(file.into());
        self
    }

    /// Whether files were read or removed since the articles were last saved.
    pub fn needs_saving(&self) -> bool {
        self.unsaved > 0 && self.text_in_files && self.saved_file.is_some()
    }

    /// How many files were read (with an article a save would keep) or removed since the
    /// articles were last saved.
    pub fn unsaved_files(&self) -> usize {
        self.unsaved
    }

    /// How many files the loader knows (read, restored, rejected or held back).
    pub fn file_count(&self) -> usize {
        self.cache.len()
    }

    /// Saves the articles of the files read so far to the file given to
    /// [`Loader::with_saved_articles`] (nothing without one), and says how many. A file
    /// rejected, with warnings, or modified moments before it was read is left out: it is
    /// read again at the next start.
    pub fn save(&mut self) -> Result<usize, SavedError> {
        let Some(file) = self.saved_file.as_ref().filter(|_| self.text_in_files) else {
            return Ok(0);
        };
        // Counted, then written as a stream: no list of them is held.
        let count = self.savable_entries().count();
        saved::save(file, &self.dir, count, self.savable_entries())?;
        self.unsaved = 0;
        Ok(count)
    }

    /// What [`Loader::save`] saves: each article read whole, without warnings, of a file
    /// not modified moments before it was read.
    fn savable_entries(&self) -> impl Iterator<Item = (&OsStr, saved::Stamp, u128, &Article)> {
        self.cache
            .iter()
            .filter(|(_, entry)| !entry.racy)
            .filter_map(|(name, entry)| {
                let Ok((article, warnings)) = &entry.outcome else {
                    return None;
                };
                let digest = entry.hash?.get();
                if !warnings.is_empty() || !saved::savable(article, digest) {
                    return None;
                }
                let fingerprint = entry.fingerprint;
                let stamp =
                    saved::Stamp::new(fingerprint.len, fingerprint.modified?, fingerprint.changed)?;
                Some((name.as_os_str(), stamp, digest, &**article))
            })
    }

    /// The same loader, refusing a folder of more than `max_files` files
    /// ([`LoadError::TooManyFiles`]) before reading any of them (`max_articles`).
    pub fn with_max_files(mut self, max_files: u64) -> Loader {
        self.max_files = max_files;
        self
    }

    /// The same loader, keeping of each article only what ordering, identity and change
    /// detection need: its text stays in its file ([`Article::without_text`]) and is read
    /// again by [`with_text`] when a document needs it. What a long-running server wants;
    /// `build`, which renders every article once, keeps the text it has just read.
    pub fn with_text_in_files(mut self) -> Loader {
        self.text_in_files = true;
        self
    }

    /// The same loader, holding back files modified less than `settle` ago (see
    /// [`SETTLE`]).
    pub fn with_settle(mut self, settle: Duration) -> Loader {
        self.settle = settle;
        self
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
        let refresh = self.refresh_with_progress(Scope::All, progress)?;
        let mut report = LoadReport {
            files_read: refresh.files_read,
            files_parsed: refresh.files_parsed,
            files_restored: refresh.files_restored,
            unsettled: refresh.unsettled,
            ..LoadReport::default()
        };
        self.fill_report(&mut report);
        Ok(report)
    }

    /// How many files of the folder are rejected now.
    pub fn rejected_count(&self) -> usize {
        self.cache.values().filter(|e| e.outcome.is_err()).count()
    }

    /// Every published article (one per identity), in no particular order.
    pub fn published(&self) -> impl Iterator<Item = &Arc<Article>> {
        self.identities.iter().filter_map(|scrapes| scrapes.first())
    }

    /// Examines the files of `scope` again and says how the published articles changed.
    pub fn refresh(&mut self, scope: Scope) -> Result<Refresh, LoadError> {
        self.refresh_with_progress(scope, &|_, _| {})
    }

    /// [`Loader::refresh`] in steps: list the files of `scope`, classify and examine each
    /// (in parallel: stat, symlink checks, reading and parsing what changed), then sort out
    /// what changed and apply it.
    fn refresh_with_progress(
        &mut self,
        scope: Scope,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Refresh, LoadError> {
        let scan_start = SystemTime::now();
        let canonical_dir = fs::canonicalize(&self.dir).map_err(|e| self.folder_error(e))?;
        let listed = self.list(&scope)?;
        if let Scope::Names(_) = scope {
            // Files named by events count against the limit as a listing's do.
            let new = listed
                .iter()
                .filter(|(path, _)| !self.cache.contains_key(name_of(path)) && path.exists())
                .count();
            if (self.cache.len() + new) as u64 > self.max_files {
                return Err(self.too_many_files());
            }
        }
        if !self.scanned {
            self.saved = self.read_saved();
        }
        let listed = self.with_text_missed(&scope, listed);
        let total = listed.len();
        let done = AtomicUsize::new(0);
        let examined: Vec<(PathBuf, Examined)> = listed
            .into_par_iter()
            .map(|(path, is_symlink)| {
                let candidate = classify(path, is_symlink, &canonical_dir);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                self.examine(candidate, scan_start)
            })
            .collect();
        let (changed, mut refresh) = self.sort_out(&scope, examined, scan_start);
        self.scanned = true;
        self.apply(changed, &mut refresh);
        self.saved = None;
        Ok(refresh)
    }

    /// `listed` and the files of this folder whose text [`with_text`] could not read back
    /// since the last refresh: each is read and parsed again, even when its fingerprint and
    /// its bytes are the same as when it was loaded, so that its identity counts as changed
    /// and what was published without its text is rendered again. (A file saved again in
    /// place with the bytes it had is empty for a moment; a render in that moment finds it
    /// changed, and without this the same bytes would leave the item without text for good.)
    fn with_text_missed(
        &mut self,
        scope: &Scope,
        mut listed: Vec<(PathBuf, Option<bool>)>,
    ) -> Vec<(PathBuf, Option<bool>)> {
        for name in take_text_missed(&self.dir) {
            let Some(entry) = self.cache.get_mut(&name) else {
                continue;
            };
            entry.hash = None;
            entry.racy = true;
            if let Scope::Names(_) = scope {
                let path = self.dir.join(&name);
                if !listed.iter().any(|(listed, _)| *listed == path) {
                    listed.push((path, None));
                }
            }
        }
        listed
    }

    /// The saved articles, when this loader has some for its folder; a damaged or
    /// unreadable file is logged and costs a full scan.
    fn read_saved(&self) -> Option<saved::Saved> {
        let file = self.saved_file.as_ref().filter(|_| self.text_in_files)?;
        match saved::load(file, &self.dir) {
            Ok(saved) => saved,
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        }
    }

    /// The entry of a file that the saved articles hold as it is now (`meta`), on the
    /// first scan.
    fn restored(&self, path: &Path, meta: &fs::Metadata, scan_start: SystemTime) -> Option<Entry> {
        let fingerprint = Fingerprint::of(meta);
        if fingerprint.len > self.max_bytes || is_racy(fingerprint.modified, scan_start) {
            return None;
        }
        let saved = self.saved.as_ref()?.get(path.file_name()?, meta)?;
        Some(Entry {
            fingerprint,
            racy: false,
            hash: Some(Digest::new(saved.digest)),
            outcome: Ok((Arc::clone(&saved.article), no_warnings())),
        })
    }

    fn too_many_files(&self) -> LoadError {
        LoadError::TooManyFiles {
            path: self.dir.clone(),
            limit: self.max_files,
        }
    }

    fn folder_error(&self, source: std::io::Error) -> LoadError {
        LoadError::Folder {
            path: self.dir.clone(),
            source,
        }
    }

    /// The files `scope` names, with whether each is a symbolic link when the listing says
    /// so. Listing is serial and cheap; what costs is examining, done in parallel.
    fn list(&self, scope: &Scope) -> Result<Vec<(PathBuf, Option<bool>)>, LoadError> {
        let mut listed = Vec::new();
        match scope {
            Scope::All => {
                for entry in fs::read_dir(&self.dir).map_err(|e| self.folder_error(e))? {
                    let entry = entry.map_err(|e| self.folder_error(e))?;
                    let name = entry.file_name();
                    if ignored(&name) {
                        continue;
                    }
                    let Ok(file_type) = entry.file_type() else {
                        continue;
                    };
                    if !file_type.is_dir() {
                        if listed.len() as u64 >= self.max_files {
                            return Err(self.too_many_files());
                        }
                        listed.push((self.dir.join(&name), Some(file_type.is_symlink())));
                    }
                }
            }
            Scope::Names(names) => {
                let mut seen = HashSet::new();
                for name in names.iter() {
                    let single = Path::new(name).file_name() == Some(name.as_os_str());
                    if single && !ignored(name) && seen.insert(name) {
                        listed.push((self.dir.join(name), None));
                    }
                }
            }
        }
        Ok(listed)
    }

    /// Whether a classified file is unchanged, held back to settle, gone, or read again.
    fn examine(&self, candidate: Candidate, scan_start: SystemTime) -> (PathBuf, Examined) {
        match candidate {
            Candidate::Gone(path) => (path, Examined::Gone),
            Candidate::Rejected(path, error) => {
                let entry = Entry {
                    fingerprint: Fingerprint {
                        len: 0,
                        modified: None,
                        changed: 0,
                    },
                    racy: true,
                    hash: None,
                    outcome: Err(Box::new(error)),
                };
                (path, Examined::Read(entry))
            }
            Candidate::File(path, meta) => {
                let fingerprint = Fingerprint::of(&meta);
                let cached = self.cache.get(name_of(&path));
                if cached.is_none() {
                    if let Some(entry) = self.restored(&path, &meta, scan_start) {
                        return (path, Examined::Restored(entry));
                    }
                }
                if cached.is_some_and(|old| old.fingerprint == fingerprint && !old.racy) {
                    return (path, Examined::Unchanged);
                }
                let held_long = self.held.get(name_of(&path)).is_some_and(|since| {
                    scan_start
                        .duration_since(*since)
                        .is_ok_and(|d| d >= MAX_HOLD + self.settle)
                });
                let settling = fingerprint.len == 0
                    || is_recent(fingerprint.modified, scan_start, self.settle);
                if self.scanned && !held_long && settling {
                    return (path, Examined::Held);
                }
                match read_entry(&path, fingerprint, self, cached) {
                    // Changed while being read: keep what we had, read again later.
                    None => (path, Examined::Held),
                    Some(mut entry) => {
                        entry.racy = is_racy(entry.fingerprint.modified, scan_start);
                        (path, Examined::Read(entry))
                    }
                }
            }
        }
    }

    /// The files that changed (with their new entries, `None` when gone) and the counts of
    /// the refresh; files held back are remembered with the time they were first held.
    fn sort_out(
        &mut self,
        scope: &Scope,
        examined: Vec<(PathBuf, Examined)>,
        scan_start: SystemTime,
    ) -> (Vec<(PathBuf, Option<Entry>)>, Refresh) {
        let mut refresh = Refresh {
            files_examined: examined.len(),
            ..Refresh::default()
        };
        let mut changed: Vec<(PathBuf, Option<Entry>)> = Vec::new();
        let mut still_held: HashSet<OsString> = HashSet::new();
        if let Scope::All = scope {
            // What the listing did not find is gone.
            let listed: HashSet<&OsStr, foldhash::fast::RandomState> =
                examined.iter().map(|(p, _)| name_of(p)).collect();
            for name in self
                .cache
                .keys()
                .filter(|n| !listed.contains(n.as_os_str()))
            {
                changed.push((self.dir.join(name), None));
            }
            self.held.retain(|n, _| listed.contains(n.as_os_str()));
        }
        for (path, examined) in examined {
            match examined {
                Examined::Unchanged => {}
                Examined::Held => {
                    let name = name_of(&path).to_os_string();
                    self.held.entry(name.clone()).or_insert(scan_start);
                    still_held.insert(name);
                    refresh.unsettled.push(path);
                }
                Examined::Gone => {
                    self.unsaved += 1;
                    changed.push((path, None));
                }
                Examined::Restored(entry) => {
                    refresh.files_restored += 1;
                    changed.push((path, Some(entry)));
                }
                Examined::Read(entry) => {
                    let previous_hash = self.cache.get(name_of(&path)).and_then(|e| e.hash);
                    refresh.files_read += 1;
                    if entry.hash.is_none() || entry.hash != previous_hash {
                        refresh.files_parsed += 1;
                    }
                    // What a save would save changed (a file rejected again at every
                    // start does not make every start save).
                    if matches!(&entry.outcome, Ok((_, w)) if w.is_empty()) {
                        self.unsaved += 1;
                    }
                    let entry = self.kept_copy(&path, entry);
                    changed.push((path, Some(entry)));
                }
            }
        }
        for (path, _) in &changed {
            if !still_held.contains(name_of(path)) {
                self.held.remove(name_of(path));
            }
        }
        (changed, refresh)
    }

    /// `entry`, with a newly parsed article copied by the calling thread when the text stays
    /// in the files. Articles are parsed on worker threads, and what is kept of each (a few
    /// hundred bytes) sat between the freed texts (kilobytes) in the workers' allocator
    /// arenas, keeping most of their pages resident; copied here, the workers' arenas empty
    /// out and go back to the system. An article met again (the same `Arc`) is kept as is.
    fn kept_copy(&self, path: &Path, entry: Entry) -> Entry {
        let Ok((article, warnings)) = &entry.outcome else {
            return entry;
        };
        if !self.text_in_files {
            return entry;
        }
        let known = self.cache.get(name_of(path)).is_some_and(
            |old| matches!(&old.outcome, Ok((before, _)) if Arc::ptr_eq(before, article)),
        );
        if known {
            return entry;
        }
        let copy = Arc::new(Article::clone(article));
        let warnings = shared(warnings.to_vec());
        Entry {
            outcome: Ok((copy, warnings)),
            ..entry
        }
    }

    /// Puts the new entries of changed files in the cache, and works out how the published
    /// articles of the identities they touch changed.
    fn apply(&mut self, changed: Vec<(PathBuf, Option<Entry>)>, refresh: &mut Refresh) {
        // Each touched identity with the article it published before this refresh, in the
        // order first touched; sorted by identity and deduplicated once at the end.
        let mut touched: Vec<(String, Option<Arc<Article>>)> = Vec::new();
        for (path, entry) in changed {
            let old = match &entry {
                Some(entry) => self.cache.insert(name_of(&path).into(), entry.clone()),
                None => self.cache.remove(name_of(&path)),
            };
            let same = match (&old, &entry) {
                (Some(old), Some(new)) => same_outcome(&old.outcome, &new.outcome),
                (None, None) => true,
                _ => false,
            };
            if let Some(new) = entry.as_ref().filter(|_| !same) {
                match &new.outcome {
                    Ok((_, warnings)) => refresh.warnings.extend(warnings.iter().cloned()),
                    Err(error) => refresh.rejected.push((**error).clone()),
                }
            }
            let old_article = old.as_ref().and_then(Entry::published);
            let new_article = entry.as_ref().and_then(Entry::published);
            let retimed = old.as_ref().map(|e| e.fingerprint.modified)
                != entry.as_ref().map(|e| e.fingerprint.modified);
            let same_id = old_article.map(|a| &a.id) == new_article.map(|a| &a.id);
            if same && same_id && !retimed {
                continue;
            }
            let name = name_of(&path);
            if let Some(old_article) = old_article {
                let id = old_article.id.as_str();
                touched.push((id.to_owned(), self.winner(id).cloned()));
                let hash = self.id_hasher.hash_one(id);
                if let Ok(mut found) = self.identities.find_entry(hash, |s| s[0].id == id) {
                    found.get_mut().retain(|a| name_of(&a.path) != name);
                    if found.get().is_empty() {
                        found.remove();
                    }
                }
            }
            if let Some(new_article) = new_article {
                let id = new_article.id.as_str();
                touched.push((id.to_owned(), self.winner(id).cloned()));
                let hash = self.id_hasher.hash_one(id);
                match self.identities.find_mut(hash, |s| s[0].id == id) {
                    Some(scrapes) => scrapes.push(Arc::clone(new_article)),
                    None => {
                        let hasher = &self.id_hasher;
                        self.identities.insert_unique(
                            hash,
                            smallvec::smallvec![Arc::clone(new_article)],
                            |s| hasher.hash_one(&s[0].id),
                        );
                    }
                }
            }
        }
        // Stable: the first entry of each identity holds what it published before.
        touched.sort_by(|a, b| a.0.cmp(&b.0));
        touched.dedup_by(|later, first| later.0 == first.0);
        for (id, before) in touched {
            let winner = self.sort_scrapes(&id, &mut refresh.warnings);
            let same = match (&before, &winner) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if !same {
                refresh.changes.withdrawn.extend(before);
                refresh.changes.published.extend(winner);
            }
        }
        refresh.warnings.sort_by(diagnostic_order);
        refresh.rejected.sort_by(rejection_order);
    }

    /// The article published for `id` now.
    fn winner(&self, id: &str) -> Option<&Arc<Article>> {
        let hash = self.id_hasher.hash_one(id);
        self.identities.find(hash, |s| s[0].id == id)?.first()
    }

    /// Puts the scrapes of `id` in order, the published one first, adds a warning for each
    /// other one to `warnings`, and gives the published one.
    fn sort_scrapes(&mut self, id: &str, warnings: &mut Vec<Diagnostic>) -> Option<Arc<Article>> {
        let Loader {
            identities,
            id_hasher,
            cache,
            ..
        } = self;
        let scrapes = identities.find_mut(id_hasher.hash_one(id), |s| s[0].id == id)?;
        let modified = |a: &Article| cache.get(name_of(&a.path)).map(|e| e.fingerprint.modified);
        scrapes.sort_by(|a, b| {
            let key_a = (a.views, modified(a), path_bytes(&a.path));
            let key_b = (b.views, modified(b), path_bytes(&b.path));
            key_b.cmp(&key_a)
        });
        warnings.extend(duplicate_warnings(id, scrapes));
        scrapes.first().cloned()
    }

    /// Lists every published article, warning and rejection, sorted by path.
    fn fill_report(&self, report: &mut LoadReport) {
        for entry in self.cache.values() {
            match &entry.outcome {
                Ok((article, _)) if article.draft => report.drafts += 1,
                Ok((_, warnings)) => report.warnings.extend(warnings.iter().cloned()),
                Err(error) => report.rejected.push((**error).clone()),
            }
        }
        for scrapes in self.identities.iter().filter(|s| s.len() > 1) {
            report
                .warnings
                .extend(duplicate_warnings(&scrapes[0].id, scrapes));
        }
        report.articles = self.published().cloned().collect();
        report
            .articles
            .sort_unstable_by(|a, b| path_bytes(&a.path).cmp(path_bytes(&b.path)));
        report.rejected.sort_by(rejection_order);
        report.warnings.sort_by(diagnostic_order);
    }
}

/// A warning for each scrape of `id` that is not published (`scrapes` in the order of
/// [`Loader::sort_scrapes`]).
fn duplicate_warnings(id: &str, scrapes: &[Arc<Article>]) -> Vec<Diagnostic> {
    let Some(kept) = scrapes.first() else {
        return Vec::new();
    };
    scrapes[1..]
        .iter()
        .map(|other| Diagnostic {
            path: other.path.to_path_buf(),
            line: None,
            message: format!(
                "duplicate of article {id}: {} is the later scrape and is published instead",
                kept.path.display()
            ),
        })
        .collect()
}

/// A path's bytes: comparing them orders the files of one folder by name, much more
/// cheaply than comparing `Path`s component by component.
fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

fn diagnostic_order(a: &Diagnostic, b: &Diagnostic) -> std::cmp::Ordering {
    (path_bytes(&a.path), a.line).cmp(&(path_bytes(&b.path), b.line))
}

fn rejection_order(a: &ArticleError, b: &ArticleError) -> std::cmp::Ordering {
    path_bytes(a.path()).cmp(path_bytes(b.path()))
}

/// What a listed file is: a regular file to examine, gone (or a folder), or rejected
/// before reading (a symbolic link leading outside `canonical_dir`, or broken).
fn classify(path: PathBuf, is_symlink: Option<bool>, canonical_dir: &Path) -> Candidate {
    let rejected = |path: PathBuf, message: String| {
        Candidate::Rejected(path.clone(), ArticleError::Unreadable { path, message })
    };
    let is_symlink = match is_symlink {
        Some(known) => known,
        None => match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => return Candidate::Gone(path),
            Ok(meta) => meta.file_type().is_symlink(),
            Err(_) => return Candidate::Gone(path),
        },
    };
    if is_symlink {
        match fs::canonicalize(&path) {
            Ok(target) if target.starts_with(canonical_dir) => {}
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
        Ok(meta) if meta.is_file() => Candidate::File(path, meta),
        Ok(_) => Candidate::Gone(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !is_symlink => Candidate::Gone(path),
        Err(e) => rejected(path, e.to_string()),
    }
}

/// Modified less than `settle` before `now` (or as little after it, for a clock that is
/// slightly off; a time far in the future does not hold a file back).
fn is_recent(modified: Option<SystemTime>, now: SystemTime, settle: Duration) -> bool {
    match modified.map(|m| now.duration_since(m)) {
        Some(Ok(age)) => age < settle,
        Some(Err(ahead)) => ahead.duration() < settle,
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
    loader: &Loader,
    cached: Option<&Entry>,
) -> Option<Entry> {
    let max_bytes = loader.max_bytes;
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
            Err(Box::new(ArticleError::TooLarge {
                path: path.to_path_buf(),
                size: fingerprint.len,
                limit: max_bytes,
            })),
        );
    }
    // As many bytes as the file had when it was looked at; then it is looked at again
    // through the open handle (cheaper than by path): a size or time that moved means it
    // changed while it was read. So no extra read is needed to find the end.
    let mut bytes = Vec::with_capacity(fingerprint.len as usize);
    let read = fs::File::open(path).and_then(|mut file| {
        (&mut file).take(fingerprint.len).read_to_end(&mut bytes)?;
        file.metadata()
    });
    match read {
        Ok(after)
            if Fingerprint::of(&after) == fingerprint && bytes.len() as u64 == fingerprint.len => {}
        Ok(_) => return None,
        Err(e) => return entry(None, Err(Box::new(unreadable(e)))),
    }
    let digest = xxhash_rust::xxh3::xxh3_128(&bytes);
    let hash = Digest::new(digest);
    if let Some(old) = cached {
        if old.hash == Some(hash) {
            return entry(Some(hash), old.outcome.clone());
        }
    }
    let keep = |article: Article| {
        if loader.text_in_files {
            article.without_text(digest)
        } else {
            article
        }
    };
    entry(
        Some(hash),
        Article::from_bytes(path, &bytes)
            .map(|Parsed { article, warnings }| (Arc::new(keep(article)), shared(warnings)))
            .map_err(Box::new),
    )
}

/// The longest file [`with_text`] reads back: more than any article the loader accepted by
/// default, and a bound on what a file that grew since can cost.
const MAX_TEXT_READ: u64 = 64 << 20;

/// Files whose text [`with_text`] could not read back, until the next refresh of their
/// loader takes them ([`Loader::with_text_missed`]). At most [`MAX_TEXT_MISSED`]: past that
/// the periodic rescans and the files' own events are left to catch up.
static TEXT_MISSED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The most files [`TEXT_MISSED`] remembers.
const MAX_TEXT_MISSED: usize = 10_000;

/// Remembers that the text of the file at `path` could not be read back.
fn note_text_missed(path: &Path) {
    let mut missed = TEXT_MISSED.lock().unwrap_or_else(|e| e.into_inner());
    if missed.len() < MAX_TEXT_MISSED && !missed.iter().any(|p| p == path) {
        missed.push(path.to_path_buf());
    }
}

/// The names of the files of `dir` whose text could not be read back, forgotten here.
fn take_text_missed(dir: &Path) -> Vec<OsString> {
    let mut missed = TEXT_MISSED.lock().unwrap_or_else(|e| e.into_inner());
    if missed.is_empty() {
        return Vec::new();
    }
    let (mine, others) = std::mem::take(&mut *missed)
        .into_iter()
        .partition::<Vec<_>, _>(|p| p.parent() == Some(dir));
    *missed = others;
    mine.iter()
        .filter_map(|p| p.file_name().map(OsStr::to_os_string))
        .collect()
}

/// `article` with its text: the same article when it holds its text, else the article
/// parsed again from its file. When the file no longer holds the bytes the article was
/// parsed from (it changed, or is gone, since the last refresh), the article is given
/// without text and a warning is logged; the loader's next refresh reads that file again
/// and counts its identity as changed, even if by then it holds its old bytes again, so
/// that whatever was rendered without the text is rendered again.
pub fn with_text(article: &Arc<Article>) -> Arc<Article> {
    let TextPlace::InFile { digest } = article.text else {
        return Arc::clone(article);
    };
    match read_text(article, digest.get()) {
        Ok(parsed) => Arc::new(parsed),
        Err(reason) => {
            tracing::warn!(
                "{}: cannot read the text of article {} again ({reason}); published without it until the file is loaded again",
                article.path.display(),
                article.id
            );
            note_text_missed(&article.path);
            Arc::clone(article)
        }
    }
}

/// `article` parsed again from its file, when the file's bytes still hash to `digest`.
fn read_text(article: &Article, digest: u128) -> Result<Article, String> {
    let mut bytes = Vec::new();
    fs::File::open(&article.path)
        .and_then(|file| file.take(MAX_TEXT_READ + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if xxhash_rust::xxh3::xxh3_128(&bytes) != digest {
        return Err("the file changed since it was loaded".into());
    }
    Article::reparsed(article, &bytes)
        .map(|parsed| parsed.article)
        .map_err(|e| e.to_string())
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
    fn saved_articles_stand_for_unchanged_files_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", &article("A", 1, 1));
        write(dir.path(), "b.txt", &article("B", 2, 1));
        write(dir.path(), "empty.txt", "  \n");
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for name in ["a.txt", "b.txt", "empty.txt"] {
            let file = fs::File::options()
                .write(true)
                .open(dir.path().join(name))
                .unwrap();
            file.set_modified(hour_ago).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join(SAVED_ARTICLES);
        let loader = || {
            Loader::new(dir.path(), 1 << 20)
                .with_text_in_files()
                .with_saved_articles(&file)
                .with_settle(Duration::ZERO)
        };
        let mut first = loader();
        let report = first.scan().unwrap();
        assert_eq!((report.files_read, report.files_restored), (3, 0));
        assert!(first.needs_saving());
        assert_eq!((first.unsaved_files(), first.file_count()), (2, 3));
        assert_eq!(first.save().unwrap(), 2, "the rejected file is not saved");
        assert!(!first.needs_saving());
        assert_eq!(first.unsaved_files(), 0);

        let mut second = loader();
        let again = second.scan().unwrap();
        assert_eq!((again.files_read, again.files_restored), (1, 2));
        assert_eq!(again.rejected, report.rejected);
        assert_eq!(again.articles, report.articles);
        assert!(
            !second.needs_saving(),
            "nothing was read but the rejected file"
        );
        // A change after the start is read as usual.
        write(dir.path(), "b.txt", &article("B again", 2, 2));
        let edit = second.refresh(Scope::All).unwrap();
        assert_eq!(edit.changes.published[0].title, "B again");
        assert!(second.needs_saving());
        assert_eq!(second.unsaved_files(), 1, "one file changed since the save");

        // A loader that keeps the text neither reads nor writes them.
        let mut holding = Loader::new(dir.path(), 1 << 20).with_saved_articles(&file);
        assert_eq!(holding.scan().unwrap().files_restored, 0);
        assert_eq!(holding.save().unwrap(), 0);
    }

    #[test]
    fn a_kept_copy_is_made_once_and_then_the_article_keeps_its_identity() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", &article("A", 1, 1));
        write(dir.path(), "b.txt", &article("B", 2, 1));
        let mut loader = Loader::new(dir.path(), 1 << 20)
            .with_text_in_files()
            .with_settle(Duration::ZERO);
        let first = loader.scan().unwrap();
        assert_eq!(first.articles.len(), 2);
        // Unchanged files: the same articles, and no change to publish.
        let again = loader.refresh(Scope::All).unwrap();
        assert!(again.changes.published.is_empty() && again.changes.withdrawn.is_empty());
        let kept: Vec<Arc<Article>> = loader.published().cloned().collect();
        for article in &first.articles {
            assert!(kept.iter().any(|k| Arc::ptr_eq(k, article)));
        }
        // An edit publishes one new article, equal to what a fresh loader parses.
        write(dir.path(), "b.txt", &article("B again", 2, 2));
        let edit = loader.refresh(Scope::All).unwrap();
        assert_eq!(edit.changes.published.len(), 1);
        assert_eq!(edit.changes.withdrawn.len(), 1);
        let fresh = Loader::new(dir.path(), 1 << 20)
            .with_text_in_files()
            .scan()
            .unwrap();
        let fresh_b = fresh.articles.iter().find(|a| a.id == "2").unwrap();
        assert_eq!(*edit.changes.published[0], **fresh_b);
    }

    #[test]
    fn a_file_saved_again_with_its_own_bytes_while_its_text_was_read_is_published_again() {
        let dir = tempfile::tempdir().unwrap();
        let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        let text = article("A", 1, 1);
        let put = |name: &str, text: &str| {
            write(dir.path(), name, text);
            filetime::set_file_mtime(dir.path().join(name), old).unwrap();
        };
        put("a.txt", &text);
        put("b.txt", &article("B", 2, 1));
        let mut loader = Loader::new(dir.path(), 1 << 20)
            .with_text_in_files()
            .with_settle(Duration::ZERO);
        loader.scan().unwrap();
        let a = Arc::clone(loader.published().find(|a| a.id == "1").unwrap());
        // Saved again in place: empty for a moment, and a render reads it then.
        fs::write(dir.path().join("a.txt"), "").unwrap();
        assert!(
            with_text(&a).paragraphs.is_empty(),
            "no text from a changed file"
        );
        put("a.txt", &text);
        // The same bytes again: the identity counts as changed, whichever refresh comes.
        let refresh = loader.refresh(Scope::Names(&names(&["b.txt"]))).unwrap();
        assert_eq!(titles(&refresh.changes.published), vec!["A"]);
        assert_eq!(titles(&refresh.changes.withdrawn), vec!["A"]);
        let again = Arc::clone(loader.published().find(|a| a.id == "1").unwrap());
        assert!(
            !with_text(&again).paragraphs.is_empty(),
            "the text is read back"
        );
        // Once published again, nothing more changes.
        assert!(loader.refresh(Scope::All).unwrap().changes.is_empty());
    }

    #[test]
    fn text_left_in_files_is_read_back_as_parsed_and_never_from_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", &article("A", 1, 1));
        write(
            dir.path(),
            "b.md",
            "+++\ntitle = \"B\"\ndate = 2020-05-02\nsummary = \"Short.\"\n+++\nSome *text*.\n",
        );
        let full = Loader::new(dir.path(), 1 << 20).scan().unwrap().articles;
        let slim = Loader::new(dir.path(), 1 << 20)
            .with_text_in_files()
            .scan()
            .unwrap()
            .articles;
        assert_eq!(full.len(), 2);
        for (full, slim) in full.iter().zip(&slim) {
            assert!(matches!(slim.text, TextPlace::InFile { .. }));
            assert!(
                slim.paragraphs.is_empty() && slim.html().is_none() && slim.summary().is_none()
            );
            assert_eq!((&slim.id, &slim.title), (&full.id, &full.title));
            assert_eq!(*with_text(full), **full, "held text is used as it is");
            let read_back = with_text(slim);
            assert_eq!(read_back.paragraphs, full.paragraphs);
            assert_eq!(read_back.html(), full.html());
            assert_eq!(read_back.summary(), full.summary());
            assert_eq!(read_back.title, full.title);
            assert!(full.detected.is_some());
            assert_eq!(*read_back, **full, "parsed again, the same article");
        }
        // A file that changed since it was loaded gives no text (the next refresh loads it).
        write(dir.path(), "a.txt", &article("A changed", 1, 2));
        let stale = with_text(&slim[0]);
        assert!(Arc::ptr_eq(&stale, &slim[0]));
        fs::remove_file(dir.path().join("b.md")).unwrap();
        assert!(Arc::ptr_eq(&with_text(&slim[1]), &slim[1]));
    }

    #[test]
    fn a_folder_of_more_files_than_the_limit_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        for n in 1..=3 {
            write(dir.path(), &format!("{n}.txt"), &article("A", n, 1));
        }
        let ok = Loader::new(dir.path(), 1 << 20).with_max_files(3).scan();
        assert_eq!(ok.unwrap().articles.len(), 3);
        let err = Loader::new(dir.path(), 1 << 20)
            .with_max_files(2)
            .scan()
            .unwrap_err();
        assert!(matches!(err, LoadError::TooManyFiles { limit: 2, .. }));
        let message = err.to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(
            message.contains("more than 2 files (max_articles)"),
            "{message}"
        );
        // A file named by an event counts too; an edit of a known file does not.
        let mut loader = Loader::new(dir.path(), 1 << 20)
            .with_max_files(3)
            .with_settle(Duration::ZERO);
        loader.scan().unwrap();
        write(dir.path(), "3.txt", &article("A again", 3, 2));
        let edit = [OsString::from("3.txt")];
        assert!(loader.refresh(Scope::Names(&edit)).is_ok());
        write(dir.path(), "4.txt", &article("D", 4, 1));
        let new = [OsString::from("4.txt")];
        assert!(matches!(
            loader.refresh(Scope::Names(&new)),
            Err(LoadError::TooManyFiles { limit: 3, .. })
        ));
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

    fn names(names: &[&str]) -> Vec<OsString> {
        names.iter().map(OsString::from).collect()
    }

    fn titles(articles: &[Arc<Article>]) -> Vec<&str> {
        let mut titles: Vec<&str> = articles.iter().map(|a| a.title.as_str()).collect();
        titles.sort();
        titles
    }

    #[test]
    fn a_refresh_of_named_files_looks_at_those_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        let put = |name: &str, text: &str| {
            write(dir.path(), name, text);
            filetime::set_file_mtime(dir.path().join(name), old).unwrap();
        };
        for i in 0..50 {
            put(&format!("{i}.txt"), &article(&format!("T{i}"), i, 1));
        }
        let mut loader = Loader::new(dir.path(), 1 << 20).with_settle(Duration::ZERO);
        assert_eq!(loader.scan().unwrap().articles.len(), 50);

        // An edit, a new file, a deleted file, and a name that is not an article file.
        put("7.txt", &article("Edited", 7, 1));
        put("new.txt", &article("New", 100, 1));
        fs::remove_file(dir.path().join("9.txt")).unwrap();
        let refresh = loader
            .refresh(Scope::Names(&names(&[
                "7.txt",
                "new.txt",
                "9.txt",
                ".hidden",
                "../escape.txt",
            ])))
            .unwrap();
        assert_eq!(
            refresh.files_examined, 3,
            "only the named files are looked at"
        );
        assert_eq!((refresh.files_read, refresh.files_parsed), (2, 2));
        assert_eq!(titles(&refresh.changes.published), vec!["Edited", "New"]);
        assert_eq!(titles(&refresh.changes.withdrawn), vec!["T7", "T9"]);

        // A file that is named but did not change costs a stat, and changes nothing.
        let refresh = loader.refresh(Scope::Names(&names(&["8.txt"]))).unwrap();
        assert_eq!((refresh.files_examined, refresh.files_read), (1, 0));
        assert!(refresh.changes.is_empty());

        // A later scrape of a published article wins over it, and the duplicate is reported.
        put("7-again.txt", &article("Edited again", 7, 5));
        let refresh = loader
            .refresh(Scope::Names(&names(&["7-again.txt"])))
            .unwrap();
        assert_eq!(titles(&refresh.changes.published), vec!["Edited again"]);
        assert_eq!(titles(&refresh.changes.withdrawn), vec!["Edited"]);
        assert!(refresh.warnings[0]
            .message
            .contains("duplicate of article 7"));
        // Deleting it brings the other scrape back.
        fs::remove_file(dir.path().join("7-again.txt")).unwrap();
        let refresh = loader
            .refresh(Scope::Names(&names(&["7-again.txt"])))
            .unwrap();
        assert_eq!(titles(&refresh.changes.published), vec!["Edited"]);

        // A file made invalid is withdrawn and reported; a full scan agrees with the refreshes.
        put("3.txt", "no footer, no date\n");
        let refresh = loader.refresh(Scope::Names(&names(&["3.txt"]))).unwrap();
        assert_eq!(titles(&refresh.changes.withdrawn), vec!["T3"]);
        assert_eq!(refresh.rejected.len(), 1);
        let mut published: Vec<Arc<Article>> = loader.published().cloned().collect();
        let fresh = Loader::new(dir.path(), 1 << 20).scan().unwrap();
        published.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(published, fresh.articles);
        assert_eq!(fresh.articles.len(), 49);
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
        std::thread::sleep(MAX_HOLD + SETTLE);
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
