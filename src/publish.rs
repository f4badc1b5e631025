//! The snapshot to disk: every resource of the site written to the output folder so that
//! no reader ever sees half a file. This is what `build` makes, and what `serve` keeps up
//! to date.
//!
//! Each file is written to a temporary file in the same folder, flushed to disk, and renamed
//! over the old one; a file whose bytes did not change is left alone, so its modification
//! time records when its content last changed.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use rayon::prelude::*;

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
    if fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(Written {
            path,
            bytes: bytes.len(),
            changed: false,
        });
    }
    fs::create_dir_all(dir).map_err(err(dir))?;
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Readers of the folder (web servers, caches) need to read the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    let mut temp = builder.tempfile_in(dir).map_err(err(dir))?;
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
    /// Every file looked at, written or left alone, in the order of the site's routes.
    pub written: Vec<Written>,
    /// Files removed because the site no longer has them.
    pub removed: Vec<PathBuf>,
}

/// How many resources are rendered and written at a time: archive and article pages are
/// made one batch at a time, so that a large site is never held in memory whole.
const BATCH: usize = 64;

/// Removes the files of routes the site no longer has, then writes every resource of
/// `snapshot` to `dir` (feeds, index, tag feeds, archive pages, article pages: the files a
/// static web server needs to answer every link). Unchanged files are left alone. Removing
/// first frees the room that the new files may need on a full disk.
pub fn publish_site(snapshot: &Snapshot, dir: &Path) -> Result<Published, PublishError> {
    let routes = snapshot.routes();
    let removed = prune(&routes, dir)?;
    let written = publish_routes(snapshot, &routes, dir)?;
    Ok(Published { written, removed })
}

/// Removes the files of the routes `changes` names as gone, then writes the routes it names
/// as changed: what `serve` does after a regeneration.
pub fn publish_changes(
    snapshot: &Snapshot,
    changes: &SiteChanges,
    dir: &Path,
) -> Result<Published, PublishError> {
    let mut removed = Vec::new();
    for route in &changes.removed {
        let Some(file) = route.file() else { continue };
        let path = dir.join(&file);
        match fs::remove_file(&path) {
            Ok(()) => {
                remove_empty_parents(dir, &path);
                removed.push(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(PublishError { path, source }),
        }
    }
    let written = publish_routes(snapshot, &changes.changed, dir)?;
    Ok(Published { written, removed })
}

/// Renders and writes the resources of `routes`, a batch at a time.
pub fn publish_routes(
    snapshot: &Snapshot,
    routes: &[Route],
    dir: &Path,
) -> Result<Vec<Written>, PublishError> {
    let mut written = Vec::with_capacity(routes.len());
    for batch in routes.chunks(BATCH) {
        let files: Vec<(String, Bytes, Care)> = batch
            .par_iter()
            .filter_map(|route| {
                let file = route.file()?;
                let body = snapshot.body(route)?;
                Some((file, body, care_of(route)))
            })
            .collect();
        let (synced, renamed): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.2.sync);
        written.extend(write_all(dir, &synced)?);
        written.extend(write_all(dir, &renamed)?);
    }
    Ok(written)
}

/// How the file of `route` is written (see [`Care`]).
fn care_of(route: &Route) -> Care {
    match route {
        Route::Archive(..) | Route::Article(_) => Care {
            sync: false,
            sweep: false,
        },
        _ => Care::DURABLE,
    }
}

/// The folders of the output folder that hold only files feedpub writes: the tags' feeds,
/// the article pages and the archive pages. The files beside them (the feeds, the index,
/// anything else) are never removed by a prune.
const MANAGED: [&str; 3] = ["tags", "articles", "archive"];

/// Removes the files in [`MANAGED`] folders that are not the file of one of the site's
/// `routes` (as [`Route::file`] names them), the temporary files dead writers left there,
/// and the folders this leaves empty.
fn prune(routes: &[Route], dir: &Path) -> Result<Vec<PathBuf>, PublishError> {
    let keep: HashSet<String> = routes.iter().filter_map(Route::file).collect();
    let mut removed = Vec::new();
    for folder in MANAGED {
        prune_folder(dir, folder, &keep, &mut removed)?;
    }
    Ok(removed)
}

/// [`prune`] of `dir/relative`, recursively; removes the folder itself when nothing is left
/// in it.
fn prune_folder(
    dir: &Path,
    relative: &str,
    keep: &HashSet<String>,
    removed: &mut Vec<PathBuf>,
) -> Result<(), PublishError> {
    let folder = dir.join(relative);
    let Ok(entries) = fs::read_dir(&folder) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            prune_folder(dir, &format!("{relative}/{name}"), keep, removed)?;
        } else if name.starts_with('.') {
            if name.ends_with(".tmp") && is_stale(&entry) {
                let _ = fs::remove_file(&path);
            }
        } else if !keep.contains(&format!("{relative}/{name}")) {
            fs::remove_file(&path).map_err(|source| PublishError {
                path: path.clone(),
                source,
            })?;
            removed.push(path);
        }
    }
    // Fails, as it should, while anything is left in it.
    let _ = fs::remove_dir(&folder);
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
