//! Writing feeds to the output folder so that no reader ever sees half a file.
//!
//! Each file is written to a temporary file in the same folder, flushed to disk, and renamed
//! over the old one; a file whose bytes did not change is left alone, so its modification
//! time records when its content last changed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Writes `bytes` to `dir/name` by temporary file and rename; `name` may name a file in a
/// sub-folder, which is created.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<Written, PublishError> {
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
    remove_stale_temps(dir, &name);
    if fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(Written {
            path,
            bytes: bytes.len(),
            changed: false,
        });
    }
    fs::create_dir_all(dir).map_err(err(dir))?;
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err(dir))?;
    temp.write_all(bytes).map_err(err(temp.path()))?;
    temp.as_file().sync_all().map_err(err(temp.path()))?;
    // Readers of the folder (web servers, caches) need to read the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))
            .map_err(err(temp.path()))?;
    }
    temp.persist(&path).map_err(|e| PublishError {
        path: path.clone(),
        source: e.error,
    })?;
    // Make the rename itself durable.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
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
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_TEMP));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes every `(name, bytes)` pair into `dir`.
pub fn write_all<'a, N: AsRef<str> + Sync>(
    dir: &Path,
    files: impl IntoIterator<Item = (N, &'a [u8])>,
) -> Result<Vec<Written>, PublishError> {
    // Each file is flushed to disk before its rename; the flushes wait on the disk, not on
    // the processor, so several files are written at once.
    let files: Vec<(N, &[u8])> = files.into_iter().collect();
    let mut written = Vec::with_capacity(files.len());
    for batch in files.chunks(16) {
        let results: Vec<Result<Written, PublishError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|(name, bytes)| {
                    scope.spawn(move || write_atomically(dir, name.as_ref(), bytes))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        for result in results {
            written.push(result?);
        }
    }
    Ok(written)
}

/// Removes the feeds of tags no article carries any more: every folder in `dir/tags` whose
/// name is not in `keep` (slugs).
pub fn prune_tags(dir: &Path, keep: &[String]) -> Result<(), PublishError> {
    let tags = dir.join("tags");
    let Ok(entries) = fs::read_dir(&tags) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !keep.contains(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(entry.path()).map_err(|source| PublishError {
                path: entry.path(),
                source,
            })?;
        }
    }
    Ok(())
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
