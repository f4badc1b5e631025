//! The snapshot to disk: every resource of the site written to the output folder so that
//! no reader ever sees half a file. This is what `build` makes, and what `serve` keeps up
//! to date.
//!
//! Each file is written to a temporary file in the same folder, flushed to disk, and renamed
//! over the old one; a file whose bytes did not change is left alone, so its modification
//! time records when its content last changed.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use rayon::prelude::*;

use crate::hosts;
use crate::render::Encoding;
use crate::snapshot::{SiteChanges, Snapshot};
use crate::urls::Route;

/// Why the output folder could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write: {source}", path.display())]
pub struct PublishError {
    /// The file or folder.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: std::io::Error,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: usize,
    /// False when the file already held exactly these bytes and was left alone.
    pub changed: bool,
}

/// How a file is written. Every file is written to a temporary file and renamed into place,
/// so no reader ever sees half of it; what differs is the wait for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Care {
    /// Flush the file to disk before the rename, and the rename after it: the feeds and the
    /// index, which readers poll and a power loss must not empty. Pages (many, and made again
    /// from the articles) are renamed without waiting: a page a power loss damaged differs
    /// from what the next publish makes, and is written again.
    pub sync: bool,
    /// Remove the temporary files dead writers left in the file's folder. Done per file where
    /// the folder is small (the feeds, a tag's folder); the article and archive folders,
    /// which grow with the history, are swept once per publish instead.
    pub sweep: bool,
}

impl Care {
    /// Flushed and swept: what [`write_atomically`] does.
    pub const DURABLE: Care = Care {
        sync: true,
        sweep: true,
    };
}

/// Writes `bytes` to `dir/name` by temporary file and rename, flushed to disk; `name` may
/// name a file in a sub-folder, which is created.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<Written, PublishError> {
    write_file(dir, name, bytes, Care::DURABLE)
}

/// Writes `bytes` to `dir/name` by temporary file and rename, with `care`.
pub fn write_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    care: Care,
) -> Result<Written, PublishError> {
    let path = dir.join(name);
    let dir = path.parent().unwrap_or(dir);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PublishError { path, source }
    };
    if care.sweep {
        remove_stale_temps(dir, &name);
    }
    if file_holds(&path, bytes) {
        return Ok(Written {
            path,
            bytes: bytes.len(),
            changed: false,
        });
    }
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Readers of the folder (web servers, caches) need to read the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    // The folder is made only when it is missing: `create_dir_all` first tries `mkdir`,
    // which locks the parent folder even when the folder exists, and every file of a
    // build would queue on that lock.
    let mut temp = match builder.tempfile_in(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(err(dir))?;
            builder.tempfile_in(dir)
        }
        made => made,
    }
    .map_err(err(dir))?;
    temp.write_all(bytes).map_err(err(temp.path()))?;
    if care.sync {
        temp.as_file().sync_all().map_err(err(temp.path()))?;
    }
    temp.persist(&path).map_err(|e| PublishError {
        path: path.clone(),
        source: e.error,
    })?;
    if care.sync {
        // Make the rename itself durable.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(Written {
        path,
        bytes: bytes.len(),
        changed: true,
    })
}

/// Whether the file at `path` holds exactly `bytes`. A file of another size (its open
/// descriptor's, no second lookup of the path) is not read.
fn file_holds(path: &Path, bytes: &[u8]) -> bool {
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.len() == bytes.len() as u64) {
        return false;
    }
    let mut old = Vec::with_capacity(bytes.len());
    file.read_to_end(&mut old).is_ok() && old == bytes
}

/// A temporary file older than this was left by a writer that died (SIGKILL, power loss)
/// before its rename; no live write takes this long.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether a folder entry was last modified longer than [`STALE_TEMP`] ago.
fn is_stale(entry: &fs::DirEntry) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_TEMP))
}

/// Removes the temporary files (`.NAME.*.tmp`) of `name` in `dir` that dead writers left
/// behind, so that they do not pile up; young ones may belong to a writer still at work.
fn remove_stale_temps(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if !(file_name.starts_with(&prefix) && file_name.ends_with(".tmp")) {
            continue;
        }
        if is_stale(&entry) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The threads that write files flushed to disk. The flushes wait on the disk, not on the
/// processor, so more such files are written at once than there are processors.
fn writers() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(16)
            .thread_name(|i| format!("feedpub-writer-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Writes every `(name, bytes, care)` into `dir`; the results are in the order given.
///
/// Files flushed to disk are written by [`writers`]; the others by the processors' threads:
/// they do not wait on the disk, and more threads than processors creating files in one
/// folder only queue on the folder's lock (a 10k-article build took 14.7 s with 16 threads
/// against 0.9 s with 2 on ext4, almost all of it system time).
pub fn write_all<N: AsRef<str> + Sync, B: AsRef<[u8]> + Sync>(
    dir: &Path,
    files: &[(N, B, Care)],
) -> Result<Vec<Written>, PublishError> {
    let write = || -> Result<Vec<Written>, PublishError> {
        files
            .par_iter()
            .map(|(name, bytes, care)| write_file(dir, name.as_ref(), bytes.as_ref(), *care))
            .collect()
    };
    match writers() {
        Some(pool) if files.iter().any(|(_, _, care)| care.sync) => pool.install(write),
        // Without a pool of its own (no threads could be made), on the caller's.
        _ => write(),
    }
}

/// What publishing a site did.
#[derive(Debug, Default)]
pub struct Published {
    /// The files of the documents held in memory (the feeds, the index, the OPML, ...) and
    /// the static hosts' files, each looked at, written or left alone, in the order of the
    /// site's routes.
    pub written: Vec<Written>,
    /// The archive, history and article pages (their plain files), counted: a site of
    /// 100,000 articles has as many, and a list of them would cost tens of megabytes.
    pub pages: Tally,
    /// The precompressed variants (`.gz`, `.br`) of every file, counted.
    pub variants: Tally,
    /// Files removed because the site no longer has them.
    pub removed: Vec<PathBuf>,
}

impl Published {
    /// Takes note of a file looked at: a page (`page`), a variant, or one of `written`.
    fn record(&mut self, file: Written, page: bool) {
        let name = file.path.as_os_str().as_encoded_bytes();
        if name.ends_with(b".gz") || name.ends_with(b".br") {
            self.variants.add(file.changed);
        } else if page {
            self.pages.add(file.changed);
        } else {
            self.written.push(file);
        }
    }

    /// Whether any file was written (not left alone as it was).
    pub fn changed_any(&self) -> bool {
        self.pages.changed > 0
            || self.variants.changed > 0
            || self.written.iter().any(|w| w.changed)
    }
}

/// How many files of a kind a publish looked at, and how many of them it wrote (the others
/// already held their bytes and were left alone).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Files looked at.
    pub files: usize,
    /// Files written.
    pub changed: usize,
}

impl Tally {
    fn add(&mut self, changed: bool) {
        self.files += 1;
        self.changed += usize::from(changed);
    }
}

/// How many resources are rendered and written at a time: archive and article pages are
/// made one batch at a time, so that a large site is never held in memory whole.
const BATCH: usize = 64;

/// The name of the gzip variant of the file `file`, which `gzip_static` and Caddy's
/// `precompressed` serve in its place.
pub fn gzip_name(file: &str) -> String {
    format!("{file}.gz")
}

/// The name of the brotli variant of the file `file` (`brotli_static`, Caddy).
pub fn brotli_name(file: &str) -> String {
    format!("{file}.br")
}

/// The names of every file that `route`'s resource may be written as: the file and its two
/// variants.
fn names_of(route: &Route) -> Option<[String; 3]> {
    let file = route.file()?;
    Some([gzip_name(&file), brotli_name(&file), file])
}

/// Writes the whole site of `snapshot` to `dir` (feeds, index, tag feeds, archive and
/// history pages, article pages, each with its precompressed variants, and the static
/// hosts' `_headers` and `_redirects`: every file a static web server needs to answer every
/// link as `serve` does), and removes the files of an earlier publish that the site no
/// longer has. Unchanged files are left alone.
///
/// Only files the [`Manifest`] names are ever removed, and the manifest names every file
/// before it is created: it is first written as the old files and every file this publish
/// may write, and at the end as the site's files. The files of routes that are gone are
/// removed before any is written, which frees the room the new ones may need on a full disk.
pub fn publish_site(snapshot: &Snapshot, dir: &Path) -> Result<Published, PublishError> {
    publish_site_until(snapshot, dir, &AtomicBool::new(false))
}

/// [`publish_site`], stopping between two batches of files once `stop` is set (a server
/// shutting down): the error is then of kind [`io::ErrorKind::Interrupted`]. Every file
/// written is whole, and the manifest names them all.
pub fn publish_site_until(
    snapshot: &Snapshot,
    dir: &Path,
    stop: &AtomicBool,
) -> Result<Published, PublishError> {
    let routes = snapshot.routes();
    // The names of a large site's files are counted in hundreds of thousands: they are made
    // from the routes when needed, and only their digests are held.
    let site_names = || {
        routes
            .iter()
            .filter_map(names_of)
            .flatten()
            .chain(HOST_FILES.map(String::from))
    };
    let possible: HashSet<u128, foldhash::fast::RandomState> =
        site_names().map(|name| name_digest(&name)).collect();
    let mut published = Published::default();
    {
        let old = read_journal(dir)?;
        let old_files = journal_files(&old);
        // Gone before anything is written, which frees the room the new ones may need.
        published.removed = remove_files(
            dir,
            old_files
                .into_iter()
                .filter(|name| !possible.contains(&name_digest(name))),
        )?;
    }
    fs::create_dir_all(dir).map_err(|source| PublishError {
        path: dir.to_path_buf(),
        source,
    })?;
    let interrupted = begin_writing(dir)?;
    // Every file this publish may write (the old files it keeps are among them).
    write_manifest(dir, site_names())?;
    sweep_folders(dir);
    let mut missing = Vec::new();
    write_routes(
        snapshot,
        &routes,
        dir,
        stop,
        interrupted,
        &mut published,
        &mut missing,
    )?;
    for file in write_host_files(snapshot, dir)? {
        published.record(file, false);
    }
    // The files not written (a variant too small to make, a page with no resource) were
    // removed as they were met; the manifest now names exactly the site's files.
    let missing: HashSet<&str> = missing.iter().map(String::as_str).collect();
    write_manifest(
        dir,
        site_names().filter(|name| !missing.contains(name.as_str())),
    )?;
    end_writing(dir)?;
    Ok(published)
}

/// The digest a name is known by in [`publish_site_until`]'s set of possible files.
fn name_digest(name: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(name.as_bytes())
}

/// Removes the files of the routes `changes` names as gone, then writes the routes it names
/// as changed: what `serve` does after a regeneration. The manifest gains the new files
/// before they are written and loses the removed ones after they are gone.
pub fn publish_changes(
    snapshot: &Snapshot,
    changes: &SiteChanges,
    dir: &Path,
) -> Result<Published, PublishError> {
    publish_changes_until(snapshot, changes, dir, &AtomicBool::new(false))
}

/// [`publish_changes`], stopping between two batches of files once `stop` is set, as
/// [`publish_site_until`] does.
pub fn publish_changes_until(
    snapshot: &Snapshot,
    changes: &SiteChanges,
    dir: &Path,
    stop: &AtomicBool,
) -> Result<Published, PublishError> {
    let gone: Vec<String> = changes
        .removed
        .iter()
        .filter_map(names_of)
        .flatten()
        .collect();
    let removed = remove_files(dir, gone.iter())?;
    let removed_names: Vec<String> = removed
        .iter()
        .filter_map(|p| relative_name(dir, p))
        .collect();
    Manifest::append(dir, '-', &removed_names)?;
    let new: Vec<String> = changes
        .changed
        .iter()
        .filter_map(names_of)
        .flatten()
        .collect();
    Manifest::append(dir, '+', &new)?;
    let interrupted = begin_writing(dir)?;
    let mut published = Published {
        removed,
        ..Published::default()
    };
    let mut missing = Vec::new();
    write_routes(
        snapshot,
        &changes.changed,
        dir,
        stop,
        interrupted,
        &mut published,
        &mut missing,
    )?;
    for file in write_host_files(snapshot, dir)? {
        published.record(file, false);
    }
    Manifest::compact_if_long(dir)?;
    end_writing(dir)?;
    Ok(published)
}

/// Renders and writes the resources of `routes`, a batch at a time, each with its
/// precompressed variants (the bytes `serve` sends for each encoding); the variants of a
/// resource too small to be compressed are removed.
pub fn publish_routes(
    snapshot: &Snapshot,
    routes: &[Route],
    dir: &Path,
) -> Result<Published, PublishError> {
    let interrupted = dir.join(WRITING).exists();
    let mut published = Published::default();
    let stop = AtomicBool::new(false);
    write_routes(
        snapshot,
        routes,
        dir,
        &stop,
        interrupted,
        &mut published,
        &mut Vec::new(),
    )?;
    Ok(published)
}

/// [`publish_routes`], stopping before the next batch once `stop` is set. `verify`: the last
/// publish into `dir` was stopped midway, so the variants of unchanged pages are checked
/// before they are kept ([`unchanged_page`]). What it writes is noted in `published`; the
/// names of the files it does not write (and removes) are added to `missing`.
fn write_routes(
    snapshot: &Snapshot,
    routes: &[Route],
    dir: &Path,
    stop: &AtomicBool,
    verify: bool,
    published: &mut Published,
    missing: &mut Vec<String>,
) -> Result<(), PublishError> {
    for batch in routes.chunks(BATCH) {
        if stop.load(Ordering::Relaxed) {
            return Err(PublishError {
                path: dir.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::Interrupted,
                    "stopped: the server is shutting down",
                ),
            });
        }
        let kept = AtomicUsize::new(0);
        let rendered: Vec<(Vec<File>, Vec<String>)> = batch
            .par_iter()
            .filter_map(|route| {
                let file = route.file()?;
                let care = care_of(route);
                if unchanged_page(snapshot, route, dir, &file, verify) {
                    kept.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                let Some(resource) = snapshot.resource(route) else {
                    return Some((Vec::new(), names_of(route)?.to_vec()));
                };
                let mut files = Vec::with_capacity(3);
                let mut absent = Vec::new();
                for (encoding, name) in [
                    (Encoding::Gzip, gzip_name(&file)),
                    (Encoding::Brotli, brotli_name(&file)),
                ] {
                    match resource.variant(encoding) {
                        Some(variant) => files.push((name, variant.body.clone(), care)),
                        None => absent.push(name),
                    }
                }
                // The plain file last: a static server that finds it finds its variants.
                files.push((file, resource.identity.body.clone(), care));
                Some((files, absent))
            })
            .collect();
        // A kept page's three files were looked at and left alone.
        let kept = kept.into_inner();
        published.pages.files += kept;
        published.variants.files += 2 * kept;
        let (files, absent): (Vec<_>, Vec<_>) = rendered.into_iter().unzip();
        let files: Vec<File> = files.into_iter().flatten().collect();
        let absent: Vec<String> = absent.into_iter().flatten().collect();
        published.removed.extend(remove_files(dir, absent.iter())?);
        missing.extend(absent);
        // Synced files are the documents held in memory; the others are pages.
        let (synced, renamed): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.2.sync);
        for file in write_all(dir, &synced)? {
            published.record(file, false);
        }
        for file in write_all(dir, &renamed)? {
            published.record(file, true);
        }
    }
    Ok(())
}

/// Whether page `route` (an archive, history or article page, made on request) can be left
/// alone: its file already holds its bytes and both its variants exist. Then the page is not
/// compressed again (most of the cost of writing a page), and its files are neither read
/// again nor rewritten (at a million articles, a start that re-read every variant read the
/// whole site twice). The variants were made from the same bytes by the same compressors,
/// unless feedpub itself was upgraded to other compressor settings in between; they are made
/// again when the page changes. With `verify` (the last publish was stopped midway, see
/// [`WRITING`]) the variants must also hold the page's bytes ([`holds`]): a publish killed
/// between a page's renames can leave variants of another generation beside a right plain
/// file.
fn unchanged_page(
    snapshot: &Snapshot,
    route: &Route,
    dir: &Path,
    file: &str,
    verify: bool,
) -> bool {
    if care_of(route).sync {
        // Held rendered and compressed in memory: nothing to save.
        return false;
    }
    let variants = [gzip_name(file), brotli_name(file)];
    if !variants.iter().all(|v| dir.join(v).is_file()) {
        return false;
    }
    let Some(body) = snapshot.body(route) else {
        return false;
    };
    if !file_holds(&dir.join(file), &body) {
        return false;
    }
    !verify
        || variants
            .iter()
            .all(|name| fs::read(dir.join(name)).is_ok_and(|bytes| holds(name, &bytes, &body)))
}

/// Whether `variant`, the bytes of the file `name` (`.gz` or `.br`), is `body` compressed.
/// A writer killed between the renames of a page's files (written in parallel, in no set
/// order) can leave variants of another generation beside a plain file that holds the
/// right bytes; kept, a static server would send the old page to every reader that accepts
/// gzip or brotli. The gzip trailer's CRC-32 and length are compared, without inflating;
/// brotli has no checksum, so it is decompressed (still far cheaper than compressing).
fn holds(name: &str, variant: &[u8], body: &[u8]) -> bool {
    if name.ends_with(".gz") {
        let Some(trailer) = variant.len().checked_sub(8).map(|at| &variant[at..]) else {
            return false;
        };
        let mut crc = flate2::Crc::new();
        crc.update(body);
        trailer[..4] == crc.sum().to_le_bytes() && trailer[4..] == (body.len() as u32).to_le_bytes()
    } else {
        let mut out = Vec::with_capacity(body.len());
        io::Read::read_to_end(&mut brotli::Decompressor::new(variant, 4096), &mut out).is_ok()
            && out == body
    }
}

/// A file to write: its name in the output folder, its bytes, and how.
type File = (String, Bytes, Care);

/// The files static hosts read for headers and redirects.
const HOST_FILES: [&str; 2] = [hosts::HEADERS_FILE, hosts::REDIRECTS_FILE];

/// Writes `_headers` and `_redirects` (see [`hosts`]).
fn write_host_files(snapshot: &Snapshot, dir: &Path) -> Result<Vec<Written>, PublishError> {
    let files = [
        (
            hosts::HEADERS_FILE,
            hosts::headers_file(&snapshot.config),
            Care::DURABLE,
        ),
        (
            hosts::REDIRECTS_FILE,
            hosts::redirects_file(&snapshot.config),
            Care::DURABLE,
        ),
    ];
    write_all(dir, &files)
}

/// How the file of `route` is written (see [`Care`]).
fn care_of(route: &Route) -> Care {
    match route {
        Route::Archive(..) | Route::History(_) | Route::Article(_) => Care {
            sync: false,
            sweep: false,
        },
        _ => Care::DURABLE,
    }
}

/// `path` relative to `dir`, with `/` between components, when it is in `dir`.
fn relative_name(dir: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

/// Whether `name` is a file name that stays inside the output folder: relative, without
/// `.` or `..` components, and free of characters no site file has. A manifest that names
/// anything else (edited by hand, or damaged) can never make feedpub remove a file outside.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains(['\\', '\0', '\n', '\r'])
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Removes the files `names` (relative to `dir`) that exist, and the folders this leaves
/// empty; returns the paths removed. Names that are not [safe](is_safe_name) are skipped.
fn remove_files<N: AsRef<str>>(
    dir: &Path,
    names: impl Iterator<Item = N>,
) -> Result<Vec<PathBuf>, PublishError> {
    let mut removed = Vec::new();
    for name in names.filter(|n| is_safe_name(n.as_ref())) {
        let path = dir.join(name.as_ref());
        match fs::remove_file(&path) {
            Ok(()) => {
                remove_empty_parents(dir, &path);
                removed.push(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(PublishError { path, source }),
        }
    }
    Ok(removed)
}

/// The folders of the output folder whose many files are written without sweeping their
/// folder each time (see [`Care::sweep`]): swept once per [`publish_site`] instead.
const SWEPT: [&str; 4] = ["tags", "lang", "articles", "archive"];

/// Removes the stale temporary files (`.NAME.*.tmp`) that dead writers left in the
/// [`SWEPT`] folders, recursively.
fn sweep_folders(dir: &Path) {
    fn sweep(folder: &Path) {
        let Ok(entries) = fs::read_dir(folder) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                sweep(&entry.path());
            } else if name.starts_with('.') && name.ends_with(".tmp") && is_stale(&entry) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    for folder in SWEPT {
        sweep(&dir.join(folder));
    }
}

/// Removes the folders between `path` and `dir` that are left empty (an article's folder).
fn remove_empty_parents(dir: &Path, path: &Path) {
    let mut folder = path.parent();
    while let Some(f) = folder.filter(|f| *f != dir && f.starts_with(dir)) {
        if fs::remove_dir(f).is_err() {
            break;
        }
        folder = f.parent();
    }
}

/// The name of the manifest in the output folder. It starts with a dot, like the
/// temporary files, so that the web server configurations in `contrib/` do not serve it.
pub const MANIFEST: &str = ".feedpub-manifest";

/// The file a publish writes into the output folder before it writes or removes any file of
/// the site, and removes once it is done. Found at the start of a publish, it says that the
/// last one was stopped midway (killed, crashed, shut down, out of space), so the page
/// variants that publish would keep are checked first. Hidden, like the manifest: static
/// hosts and the example configurations never serve it.
pub const WRITING: &str = ".feedpub-writing";

/// Marks `dir` as being written ([`WRITING`]); says whether the last publish into it was
/// stopped midway.
fn begin_writing(dir: &Path) -> Result<bool, PublishError> {
    let path = dir.join(WRITING);
    if path.exists() {
        return Ok(true);
    }
    fs::write(&path, b"").map_err(|source| PublishError { path, source })?;
    Ok(false)
}

/// Marks `dir` as written whole: removes [`WRITING`].
fn end_writing(dir: &Path) -> Result<(), PublishError> {
    let path = dir.join(WRITING);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(PublishError { path, source: e }),
        _ => Ok(()),
    }
}

/// The first line of a manifest.
const MANIFEST_HEADER: &str = "# feedpub manifest 1";

/// A journal is rewritten as the set of files it names once it is longer than this, and
/// twice as long as when it was last written whole ([`MANIFEST_BASE`]): a site of a million
/// articles has a manifest of 100 MB, which must not be rewritten after every edit.
const MANIFEST_MAX_BYTES: u64 = 4 << 20;

/// The second line of a manifest written whole: `# base BYTES`, the length of what was
/// written, from which appends are counted (see [`MANIFEST_MAX_BYTES`]).
const MANIFEST_BASE: &str = "# base ";

/// The files feedpub wrote in an output folder: the only ones it ever removes, so that
/// files put there by anyone else are left alone.
///
/// On disk it is a journal: a header line, then `+ NAME` for a file that was (or was about
/// to be) written and `- NAME` for one removed; [`publish_site`] rewrites it whole, and
/// `serve` appends to it after each regeneration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The files, relative to the output folder, `/` between components.
    pub files: BTreeSet<String>,
}

impl Manifest {
    /// Reads the manifest of `dir`; empty when there is none (a new folder, or one written
    /// before manifests existed: nothing in it is known to be feedpub's). Lines that are not
    /// entries are skipped.
    pub fn read(dir: &Path) -> Result<Manifest, PublishError> {
        Ok(Manifest::parse(&read_journal(dir)?))
    }

    /// The manifest a journal's text describes.
    pub fn parse(text: &str) -> Manifest {
        let files = journal_files(text).into_iter().map(String::from).collect();
        Manifest { files }
    }

    /// The manifest as a journal of additions.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(32 + self.files.len() * 32);
        text.push_str(MANIFEST_HEADER);
        text.push('\n');
        for name in &self.files {
            text.push_str("+ ");
            text.push_str(name);
            text.push('\n');
        }
        text
    }

    /// Appends `+ NAME` (`op` is `+`) or `- NAME` (`-`) for each of `names`, flushed to disk
    /// before it returns.
    fn append(dir: &Path, op: char, names: &[String]) -> Result<(), PublishError> {
        if names.is_empty() {
            return Ok(());
        }
        let path = dir.join(MANIFEST);
        let err = |source| PublishError {
            path: path.clone(),
            source,
        };
        let fresh = !path.exists();
        let mut text = String::new();
        if fresh {
            text.push_str(MANIFEST_HEADER);
            text.push('\n');
        }
        for name in names.iter().filter(|n| is_safe_name(n)) {
            text.push(op);
            text.push(' ');
            text.push_str(name);
            text.push('\n');
        }
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        file.write_all(text.as_bytes()).map_err(err)?;
        file.sync_data().map_err(err)
    }

    /// Rewrites a journal that has grown past [`MANIFEST_MAX_BYTES`] and to twice its length
    /// when last written whole as the files it names, so that the cost of rewriting is
    /// spread over as many appended bytes as the manifest has.
    fn compact_if_long(dir: &Path) -> Result<(), PublishError> {
        let path = dir.join(MANIFEST);
        let Ok(len) = fs::metadata(&path).map(|m| m.len()) else {
            return Ok(());
        };
        if len > MANIFEST_MAX_BYTES && len > 2 * manifest_base(&path) {
            let text = read_journal(dir)?;
            write_manifest(dir, journal_files(&text).into_iter())?;
        }
        Ok(())
    }
}

/// The length a manifest had when it was last written whole, from its `# base` line; 0 when
/// it has none (written by appends only, or damaged).
fn manifest_base(path: &Path) -> u64 {
    let mut head = Vec::with_capacity(64);
    if fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .is_err()
    {
        return 0;
    }
    String::from_utf8_lossy(&head)
        .lines()
        .nth(1)
        .and_then(|line| line.strip_prefix(MANIFEST_BASE))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The text of the manifest journal of `dir`; empty when there is none.
fn read_journal(dir: &Path) -> Result<String, PublishError> {
    let path = dir.join(MANIFEST);
    match fs::read(&path) {
        Ok(bytes) => Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(PublishError { path, source }),
    }
}

/// The files a manifest journal names when replayed (a `- NAME` takes back the `+ NAME`
/// before it), borrowed from its text, in the order first added. A large site's journal
/// names hundreds of thousands of files; a `String` for each would outlive the publish as
/// scattered free memory.
fn journal_files(text: &str) -> Vec<&str> {
    let mut present: HashMap<&str, bool, foldhash::fast::RandomState> = HashMap::default();
    let mut order = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("+ ").filter(|n| is_safe_name(n)) {
            if present.insert(name, true).is_none() {
                order.push(name);
            }
        } else if let Some(name) = line.strip_prefix("- ") {
            if let Some(kept) = present.get_mut(name) {
                *kept = false;
            }
        }
    }
    order.retain(|name| present.get(name) == Some(&true));
    order
}

/// Writes the manifest of `dir` whole, naming `names` in sorted order (so that a folder kept
/// under version control sees small diffs), by temporary file and rename. The names are
/// sorted as slices of one text: a large site has hundreds of thousands.
fn write_manifest<N: AsRef<str>>(
    dir: &Path,
    names: impl Iterator<Item = N>,
) -> Result<(), PublishError> {
    let mut listed = String::new();
    for name in names.filter(|n| is_safe_name(n.as_ref())) {
        listed.push_str(name.as_ref());
        listed.push('\n');
    }
    let mut lines: Vec<&str> = listed.lines().collect();
    lines.sort_unstable();
    lines.dedup();
    let entries: usize = lines.iter().map(|name| name.len() + 3).sum();
    // The base line counts itself, with room for its own digits.
    let head = MANIFEST_HEADER.len() + 1 + MANIFEST_BASE.len() + 21;
    let mut text = String::with_capacity(head + entries);
    text.push_str(MANIFEST_HEADER);
    text.push('\n');
    text.push_str(MANIFEST_BASE);
    text.push_str(&(head + entries).to_string());
    text.push('\n');
    for name in lines {
        text.push_str("+ ");
        text.push_str(name);
        text.push('\n');
    }
    write_atomically(dir, MANIFEST, text.as_bytes()).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_holds_its_exact_bytes_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.html");
        assert!(!file_holds(&path, b"abc"), "no file");
        fs::write(&path, b"abc").unwrap();
        assert!(file_holds(&path, b"abc"));
        assert!(!file_holds(&path, b"abd"), "same size, other bytes");
        assert!(!file_holds(&path, b"ab"), "shorter");
        assert!(!file_holds(&path, b"abcd"), "longer");
        fs::write(&path, b"").unwrap();
        assert!(file_holds(&path, b""));
    }

    #[test]
    fn missing_folders_are_made_and_a_file_where_a_folder_belongs_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let page = Care {
            sync: false,
            sweep: false,
        };
        assert!(
            write_file(dir.path(), "a/b/c.html", b"deep", page)
                .unwrap()
                .changed
        );
        assert_eq!(fs::read(dir.path().join("a/b/c.html")).unwrap(), b"deep");
        assert!(
            write_file(dir.path(), "a/b/d.html", b"next", page)
                .unwrap()
                .changed
        );
        fs::write(dir.path().join("x"), b"a file").unwrap();
        let error = write_file(dir.path(), "x/y.html", b"no", page).unwrap_err();
        assert_eq!(error.path, dir.path().join("x"), "{error}");
    }

    #[test]
    fn writes_replaces_and_leaves_unchanged_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_atomically(dir.path(), "f.xml", b"one").unwrap();
        assert!(first.changed);
        assert_eq!(fs::read(dir.path().join("f.xml")).unwrap(), b"one");
        assert!(
            !write_atomically(dir.path(), "f.xml", b"one")
                .unwrap()
                .changed
        );
        assert!(
            write_atomically(dir.path(), "f.xml", b"two")
                .unwrap()
                .changed
        );
        assert_eq!(fs::read(dir.path().join("f.xml")).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn temporary_files_left_by_a_killed_writer_are_removed_once_stale() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".f.xml.a1b2c3.tmp");
        let young = dir.path().join(".f.xml.d4e5f6.tmp");
        let other = dir.path().join(".g.xml.a1b2c3.tmp");
        for path in [&stale, &young, &other] {
            fs::write(path, "half a fe").unwrap();
        }
        let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        filetime::set_file_mtime(&stale, old).unwrap();
        filetime::set_file_mtime(&other, old).unwrap();
        // Unchanged content still sweeps.
        write_atomically(dir.path(), "f.xml", b"one").unwrap();
        write_atomically(dir.path(), "f.xml", b"one").unwrap();
        assert!(!stale.exists(), "a stale temporary file is removed");
        assert!(young.exists(), "a young one may belong to a live writer");
        assert!(
            other.exists(),
            "only the temporary files of the file written"
        );
    }

    #[test]
    fn the_manifest_journal_replays_and_never_names_a_file_outside() {
        let text = "# feedpub manifest 1\n+ rss.xml\n+ articles/1.html\n+ articles/1.html.gz\n\
                    - articles/1.html.gz\n+ ../../etc/passwd\n+ /etc/passwd\n+ a/./b\n+ \n\
                    garbage\n+ tags/ترافیک/rss.xml\n";
        let manifest = Manifest::parse(text);
        let files: Vec<&str> = manifest.files.iter().map(String::as_str).collect();
        assert_eq!(files, ["articles/1.html", "rss.xml", "tags/ترافیک/rss.xml"]);
        assert_eq!(Manifest::parse(&manifest.to_text()), manifest);
        let again = "+ a.xml\n+ b.xml\n- a.xml\n+ a.xml\n- b.xml\n+ c.xml\n- d.xml\n";
        assert_eq!(journal_files(again), ["a.xml", "c.xml"]);
    }

    #[test]
    fn appends_and_compaction_keep_the_set() {
        let dir = tempfile::tempdir().unwrap();
        Manifest::append(dir.path(), '+', &["a.xml".into(), "b/c.html".into()]).unwrap();
        Manifest::append(dir.path(), '-', &["a.xml".into()]).unwrap();
        let read = Manifest::read(dir.path()).unwrap();
        assert_eq!(read.files.iter().collect::<Vec<_>>(), ["b/c.html"]);
        write_manifest(dir.path(), read.files.iter()).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(MANIFEST)).unwrap(),
            "# feedpub manifest 1\n# base 60\n+ b/c.html\n"
        );
    }

    #[test]
    fn a_long_journal_is_rewritten_only_once_it_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..200_000)
            .map(|i| format!("articles/{i:08}.html"))
            .collect();
        write_manifest(dir.path(), names.iter()).unwrap();
        let path = dir.path().join(MANIFEST);
        let len = || fs::metadata(&path).unwrap().len();
        let whole = len();
        assert!(whole > MANIFEST_MAX_BYTES, "{whole} bytes");
        assert!((whole..whole + 32).contains(&manifest_base(&path)));
        // Edits, each taking a page back and writing it again, as long as the manifest: kept.
        let edit = vec!["articles/00000007.html".to_string(); names.len() / 2];
        Manifest::append(dir.path(), '-', &edit).unwrap();
        Manifest::append(dir.path(), '+', &edit).unwrap();
        let appended = len();
        assert!(appended > whole + whole * 9 / 10, "{appended} bytes");
        Manifest::compact_if_long(dir.path()).unwrap();
        assert_eq!(len(), appended, "not rewritten before it doubled");
        // Past twice its length, the journal is the set again.
        Manifest::append(dir.path(), '+', &edit).unwrap();
        Manifest::compact_if_long(dir.path()).unwrap();
        assert_eq!(len(), whole, "rewritten as the set");
        assert_eq!(
            journal_files(&read_journal(dir.path()).unwrap()).len(),
            names.len()
        );
    }
}
