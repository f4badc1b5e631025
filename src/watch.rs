//! Watching the articles folder and the configuration file: which files changed, or that
//! anything may have (the folder itself replaced, events lost).
//!
//! On Linux the kernel's inotify is read directly, for the events that can change what is
//! published only: files created, written, closed after writing, renamed, removed or given
//! other permissions. A general file-watching library also asks for the opening of every
//! file; feedpub itself opens an article's file whenever it renders the article's page or
//! text, so at a million articles each check of the site on disk queued a million events
//! (a fifth of the check's CPU time, in the kernel and in the thread reading them) and
//! risked the kernel's queue overflowing into a needless rescan of the whole folder.
//! Elsewhere the `notify` library is used, with its access events ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

/// What a file event asks the server to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// These files of the articles folder changed (by their names).
    Names(Vec<OsString>),
    /// Anything may have changed: list the whole folder.
    Everything,
}

/// A watch of the articles folder (and of its parent, which tells when the folder itself is
/// removed, renamed or created again) and of the configuration file's folder; it ends when
/// dropped.
#[derive(Debug)]
pub struct Watch {
    #[cfg(target_os = "linux")]
    task: tokio::task::JoinHandle<()>,
    #[cfg(not(target_os = "linux"))]
    _watcher: notify::RecommendedWatcher,
}

#[cfg(target_os = "linux")]
impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches `articles` and the file `config`, sending what changed to `trigger`; `None`
/// (and a warning) where the platform gives no events, in which case the periodic rescan
/// still works. On Linux it must be called within a tokio runtime.
pub fn watch_files(
    articles: &Path,
    config: Option<&Path>,
    trigger: mpsc::UnboundedSender<Wake>,
) -> Option<Watch> {
    let places = Places::new(articles, config);
    platform::watch(articles, places, trigger)
}

/// The folders watched and the names that matter in each.
#[derive(Debug, Clone)]
struct Places {
    /// The articles folder, absolute.
    articles: PathBuf,
    /// Its parent, where the folder itself is created, renamed or removed.
    parent: Option<PathBuf>,
    /// The configuration file's folder and the file's name.
    config: Option<(PathBuf, OsString)>,
}

impl Places {
    fn new(articles: &Path, config: Option<&Path>) -> Places {
        let articles = absolute(articles);
        let parent = articles.parent().map(Path::to_path_buf);
        let config = config.and_then(|c| {
            let c = std::fs::canonicalize(c).unwrap_or_else(|_| c.to_path_buf());
            Some((c.parent()?.to_path_buf(), c.file_name()?.to_os_string()))
        });
        Places {
            articles,
            parent,
            config,
        }
    }

    /// What an event about `name` in the folder `dir` (`None`: about `dir` itself) asks for.
    fn wake(&self, dir: &Path, name: Option<&std::ffi::OsStr>) -> Option<Wake> {
        let Some(name) = name else {
            // The articles folder itself (removed, renamed) or a watch that ended.
            return (dir == self.articles).then_some(Wake::Everything);
        };
        if dir == self.articles {
            return Some(Wake::Names(vec![name.to_os_string()]));
        }
        let is_folder =
            self.parent.as_deref() == Some(dir) && self.articles.file_name() == Some(name);
        let is_config = self
            .config
            .as_ref()
            .is_some_and(|(folder, file)| folder == dir && file == name);
        (is_folder || is_config).then_some(Wake::Everything)
    }
}

/// `path` made absolute and free of symbolic links where it exists; as given (made absolute)
/// where it does not.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// Sends the wakes of one batch of events: the names of the articles folder together, and
/// one `Everything` if any event asked for it.
fn send(wakes: impl IntoIterator<Item = Wake>, trigger: &mpsc::UnboundedSender<Wake>) {
    let mut names = Vec::new();
    let mut everything = false;
    for wake in wakes {
        match wake {
            Wake::Names(mut more) => names.append(&mut more),
            Wake::Everything => everything = true,
        }
    }
    if everything {
        let _ = trigger.send(Wake::Everything);
    } else if !names.is_empty() {
        let _ = trigger.send(Wake::Names(names));
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use std::path::{Path, PathBuf};

    use futures_util::{FutureExt, StreamExt};
    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
    use tokio::sync::mpsc;

    use super::{send, Places, Wake, Watch};

    /// The events that can change what is published; never an open, a read or a close
    /// after reading.
    const MASK: WatchMask = WatchMask::CREATE
        .union(WatchMask::DELETE)
        .union(WatchMask::MODIFY)
        .union(WatchMask::CLOSE_WRITE)
        .union(WatchMask::MOVED_FROM)
        .union(WatchMask::MOVED_TO)
        .union(WatchMask::ATTRIB)
        .union(WatchMask::DELETE_SELF)
        .union(WatchMask::MOVE_SELF);

    pub(super) fn watch(
        articles: &Path,
        places: Places,
        trigger: mpsc::UnboundedSender<Wake>,
    ) -> Option<Watch> {
        let inotify = match Inotify::init() {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "no file events; relying on the periodic rescan");
                return None;
            }
        };
        // The folder each watch descriptor stands for (one folder may be watched in two
        // roles, as the articles' parent and the configuration's folder: one descriptor).
        let mut folders: Vec<(WatchDescriptor, PathBuf)> = Vec::new();
        let mut add = |dir: &Path, what: &str| match inotify.watches().add(dir, MASK) {
            Ok(wd) => folders.push((wd, dir.to_path_buf())),
            Err(e) => tracing::warn!(error = %e, path = %dir.display(), "cannot watch {what}"),
        };
        add(
            articles,
            "the articles folder; relying on the periodic rescan",
        );
        if let Some(parent) = places.parent.clone() {
            add(&parent, "the articles folder's parent");
        }
        if let Some((dir, _)) = places.config.clone() {
            add(&dir, "the configuration file");
        }
        let mut events = match inotify.into_event_stream([0u8; 16384]) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "no file events; relying on the periodic rescan");
                return None;
            }
        };
        let task = tokio::spawn(async move {
            while let Some(first) = events.next().await {
                // Everything already read is handled as one batch.
                let mut batch = vec![first];
                while let Some(Some(more)) = events.next().now_or_never() {
                    batch.push(more);
                }
                let mut wakes = Vec::with_capacity(batch.len());
                for event in batch {
                    let event = match event {
                        Ok(event) => event,
                        Err(e) => {
                            tracing::warn!(error = %e, "file events stopped; rescanning the articles folder, then relying on the periodic rescan");
                            let _ = trigger.send(Wake::Everything);
                            return;
                        }
                    };
                    if event.mask.contains(EventMask::Q_OVERFLOW) {
                        tracing::warn!(
                            "file events were lost (the event queue overflowed); rescanning the articles folder"
                        );
                        wakes.push(Wake::Everything);
                        continue;
                    }
                    let folder = folders.iter().filter(|(wd, _)| *wd == event.wd);
                    for (_, dir) in folder {
                        wakes.extend(places.wake(dir, event.name.as_deref()));
                    }
                }
                send(wakes, &trigger);
            }
        });
        Some(Watch { task })
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::path::Path;

    use notify::{EventKind, RecursiveMode, Watcher};
    use tokio::sync::mpsc;

    use super::{send, Places, Wake, Watch};

    pub(super) fn watch(
        articles: &Path,
        places: Places,
        trigger: mpsc::UnboundedSender<Wake>,
    ) -> Option<Watch> {
        let handler_places = places.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else {
                let _ = trigger.send(Wake::Everything);
                return;
            };
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            if event.need_rescan() {
                tracing::warn!(
                    "file events were lost (the event queue overflowed); rescanning the articles folder"
                );
            }
            if event.paths.is_empty() || event.need_rescan() {
                let _ = trigger.send(Wake::Everything);
                return;
            }
            let wakes = event.paths.iter().filter_map(|path| {
                if *path == handler_places.articles {
                    return Some(Wake::Everything);
                }
                handler_places.wake(path.parent()?, path.file_name())
            });
            send(wakes.collect::<Vec<_>>(), &trigger);
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "no file events; relying on the periodic rescan");
                return None;
            }
        };
        if let Err(e) = watcher.watch(articles, RecursiveMode::NonRecursive) {
            tracing::warn!(error = %e, path = %articles.display(), "cannot watch the articles folder; relying on the periodic rescan");
        }
        if let Some(parent) = places.parent.as_deref() {
            let _ = watcher.watch(parent, RecursiveMode::NonRecursive);
        }
        if let Some((dir, _)) = places.config.as_ref() {
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(error = %e, "cannot watch the configuration file");
            }
        }
        Some(Watch { _watcher: watcher })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use super::*;

    /// The next wake within `secs`, if any.
    async fn next(rx: &mut mpsc::UnboundedReceiver<Wake>, secs: f64) -> Option<Wake> {
        tokio::time::timeout(Duration::from_secs_f64(secs), rx.recv())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn writes_wake_by_name_and_reads_do_not_wake() {
        let site = tempfile::tempdir().unwrap();
        let articles = site.path().join("articles");
        fs::create_dir(&articles).unwrap();
        fs::write(articles.join("a.txt"), "old").unwrap();
        let config = site.path().join("feedpub.toml");
        fs::write(&config, "title = \"x\"\n").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _watch = watch_files(&articles, Some(&config), tx).expect("inotify works here");

        // Reading files (as a page render does) is no change.
        for _ in 0..100 {
            assert_eq!(fs::read_to_string(articles.join("a.txt")).unwrap(), "old");
        }
        fs::read_to_string(&config).unwrap();
        assert_eq!(next(&mut rx, 0.3).await, None, "a read woke the server");

        fs::write(articles.join("b.txt"), "new").unwrap();
        let mut names = Vec::new();
        while let Some(wake) = next(&mut rx, 0.3).await {
            match wake {
                Wake::Names(n) => names.extend(n),
                Wake::Everything => panic!("a new file asked for a whole rescan"),
            }
        }
        assert!(
            !names.is_empty() && names.iter().all(|n| n == "b.txt"),
            "{names:?}"
        );

        // A file beside the articles folder is nobody's business.
        fs::write(site.path().join("notes.txt"), "x").unwrap();
        assert_eq!(next(&mut rx, 0.3).await, None);

        // The configuration file, and the folder itself, ask for everything.
        fs::write(&config, "title = \"y\"\n").unwrap();
        assert_eq!(next(&mut rx, 2.0).await, Some(Wake::Everything));
        while next(&mut rx, 0.3).await.is_some() {}
        fs::rename(&articles, site.path().join("moved")).unwrap();
        assert_eq!(next(&mut rx, 2.0).await, Some(Wake::Everything));
    }

    #[tokio::test]
    async fn a_dropped_watch_sends_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let watch = watch_files(dir.path(), None, tx).expect("inotify works here");
        drop(watch);
        tokio::task::yield_now().await;
        fs::write(dir.path().join("a.txt"), "x").unwrap();
        assert_eq!(next(&mut rx, 0.3).await, None);
    }
}
