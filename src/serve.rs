//! `feedpub serve`: loads and publishes once, then serves the snapshot while regenerating it
//! whenever the articles or the configuration change.
//!
//! Regeneration is triggered by file events (debounced), a periodic rescan (for file
//! systems without events), SIGHUP, and a retry when a file was caught mid-write. A failed
//! regeneration keeps the last good snapshot.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError, Overrides, DEFAULT_CONFIG_FILE};
use crate::feed::RenderError;
use crate::http::access_log::{self, AccessLog, AccessLogError};
use crate::http::admin::{Admin, StatsService};
use crate::http::operations::Operations;
use crate::http::polite::{self, PolitePolling};
use crate::http::server::{self, Limits};
use crate::http::tls::{Tls, TlsError, TlsFiles};
use crate::loader::{LoadError, Loader, Scope, SAVED_ARTICLES};
use crate::metrics::Metrics;
use crate::publish;
use crate::snapshot::Snapshot;
use crate::urls::{archive_path, language_feed_path, tag_feed_path, Format, Route, OPML_PATH};
use crate::watch::{watch_files, Wake, Watch};
use crate::websub::Notifier;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The articles folder could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A feed could not be written.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The statistics database cannot be used.
    #[error(transparent)]
    Stats(#[from] crate::stats::StatsError),
    /// A background task failed (it panicked or was cancelled).
    #[error("internal error: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The access log cannot be opened.
    #[error(transparent)]
    AccessLog(#[from] AccessLogError),
}

/// Why a regeneration made no new snapshot; the last good one is still served.
#[derive(Debug, thiserror::Error)]
pub enum RegenerateError {
    /// The articles folder could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A document could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// How to start the server.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `--config`; without it `./feedpub.toml` when it exists.
    pub config_path: Option<PathBuf>,
    /// Flags that win over the file.
    pub overrides: Overrides,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    state: Arc<ArcSwap<Snapshot>>,
    trigger: mpsc::UnboundedSender<Wake>,
    shutdown: watch::Sender<bool>,
    http: JoinHandle<()>,
    regeneration: JoinHandle<()>,
    writer: JoinHandle<()>,
    /// The statistics writer, when polls are recorded.
    stats: Option<crate::stats::Writer>,
}

/// The wakes gathered while waiting out the debounce: what the next regeneration looks at.
#[derive(Debug, Default)]
struct Pending {
    everything: bool,
    names: BTreeSet<OsString>,
}

impl Pending {
    fn add(&mut self, wake: Wake) {
        match wake {
            Wake::Names(names) => self.names.extend(names),
            Wake::Everything => self.everything = true,
        }
    }
}

/// Keeps what regeneration needs between runs: the configuration source and the loader's
/// cache.
struct Regenerator {
    config_path: Option<PathBuf>,
    config_stamp: Option<(u64, Option<SystemTime>)>,
    overrides: Overrides,
    config: Arc<Config>,
    loader: Loader,
    /// The loader was made anew (another folder): the next snapshot is built from all it
    /// finds, not from changes.
    new_loader: bool,
    /// When the loader's articles were last saved for the next start.
    saved_at: Option<Instant>,
}

/// How often, at most, the loader's articles are saved again after changes while serving
/// (they are also saved after the first scan and at shutdown); an article changed since is
/// read again at the next start.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// A loader of the configured folder, holding back files written less than the debounce
/// time ago (they may still be being written).
fn loader_for(config: &Config) -> Loader {
    Loader::new(&config.articles, config.max_article_bytes)
        .with_max_files(config.max_articles)
        .with_settle(config.debounce)
        .with_text_in_files()
        .with_saved_articles(config.output.join(SAVED_ARTICLES))
}

impl Regenerator {
    /// Saves the loader's articles, so that the next start need not read every file, when
    /// files were read since the last save: at once when `now`, else at most every
    /// [`SAVE_EVERY`] and only once a hundredth of the files changed. A save rewrites every
    /// article (200 MB at a million, seconds during which the next change waits), and a
    /// change not saved costs the next start one read of its file. A failure is logged; it
    /// only costs the next start time.
    fn save_articles(&mut self, now: bool) {
        if !self.loader.needs_saving() {
            return;
        }
        if !now {
            let due = self.saved_at.is_none_or(|t| t.elapsed() >= SAVE_EVERY);
            let worth = self.loader.unsaved_files() * 100 >= self.loader.file_count();
            if !(due && worth) {
                return;
            }
        }
        let started = Instant::now();
        self.saved_at = Some(started);
        match self.loader.save() {
            Ok(articles) => tracing::debug!(
                articles,
                millis = started.elapsed().as_millis() as u64,
                "articles saved for the next start"
            ),
            Err(e) => tracing::warn!("{e}; the next start reads every article again"),
        }
    }

    fn stamp(path: &Path) -> Option<(u64, Option<SystemTime>)> {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    }

    /// Re-reads the configuration file when it changed. A broken file is logged and the
    /// last good configuration stays in force.
    fn reload_config(&mut self) {
        let Some(path) = &self.config_path else {
            return;
        };
        let stamp = Regenerator::stamp(path);
        if stamp == self.config_stamp {
            return;
        }
        self.config_stamp = stamp;
        match Config::load(Some(path), &self.overrides) {
            Ok(mut config) => {
                if !config.base_url_explicit {
                    let listen_base = self.config.base_url.clone();
                    if config.site_url == config.base_url {
                        config.site_url.clone_from(&listen_base);
                    }
                    config.base_url = listen_base;
                }
                if config.addr != self.config.addr {
                    tracing::warn!(addr = %config.addr, "a new `addr` takes effect at the next start");
                }
                if config.stats != self.config.stats {
                    tracing::warn!("new statistics settings take effect at the next start");
                }
                if config.articles != self.config.articles
                    || config.max_article_bytes != self.config.max_article_bytes
                    || config.debounce != self.config.debounce
                {
                    self.loader = loader_for(&config);
                    self.new_loader = true;
                }
                tracing::info!(path = %path.display(), "configuration reloaded");
                self.config = Arc::new(config);
            }
            Err(e) => tracing::error!("{e}; keeping the last good configuration"),
        }
    }

    /// Makes the next snapshot from the files `pending` names (or the whole folder), or
    /// `None` when no article changed; errors keep the last good one. A snapshot whose feeds
    /// are unchanged (an old article changed) is returned too: it is the base of the next
    /// changes. Also returns the files held back to settle, to look at again shortly.
    fn regenerate(
        &mut self,
        current: &Snapshot,
        pending: &Pending,
    ) -> Result<(Option<Snapshot>, Vec<OsString>), RegenerateError> {
        let started = Instant::now();
        self.reload_config();
        let names: Vec<OsString> = pending.names.iter().cloned().collect();
        let scope = if pending.everything || self.new_loader {
            Scope::All
        } else {
            Scope::Names(&names)
        };
        let refresh = self.loader.refresh(scope)?;
        for warning in &refresh.warnings {
            tracing::warn!("warning: {warning}");
        }
        for rejected in &refresh.rejected {
            tracing::warn!("rejected: {rejected}");
        }
        let now = SystemTime::now();
        let config = Arc::clone(&self.config);
        let rebuilt = std::mem::take(&mut self.new_loader);
        let next = if rebuilt {
            // In any order: the corpus sorts them.
            let articles: Vec<Arc<crate::article::Article>> =
                self.loader.published().cloned().collect();
            Snapshot::build(config, &articles, Some(current), None, now)
        } else {
            // Compressed after it is served (see `compress_and_store`).
            current.update_uncompressed(config, &refresh.changes, now)
        }?;
        let held = refresh
            .unsettled
            .iter()
            .filter_map(|p| p.file_name().map(OsString::from))
            .collect();
        if next.generation == current.generation {
            if refresh.changes.is_empty() && !rebuilt {
                tracing::debug!(
                    files_examined = refresh.files_examined,
                    files_read = refresh.files_read,
                    millis = started.elapsed().as_millis() as u64,
                    "rescan: nothing changed"
                );
                return Ok((None, held));
            }
            // Articles changed without changing a feed (an old article, beyond the newest
            // items): the new snapshot must still be served, since it holds the articles
            // the next changes apply to, and their pages.
            tracing::debug!(
                published = refresh.changes.published.len(),
                withdrawn = refresh.changes.withdrawn.len(),
                millis = started.elapsed().as_millis() as u64,
                "articles changed; no feed changed"
            );
            return Ok((Some(next), held));
        }
        tracing::info!(
            generation = next.generation,
            articles = next.articles.len(),
            published = refresh.changes.published.len(),
            withdrawn = refresh.changes.withdrawn.len(),
            files_examined = refresh.files_examined,
            files_read = refresh.files_read,
            files_parsed = refresh.files_parsed,
            millis = started.elapsed().as_millis() as u64,
            "regenerated"
        );
        Ok((Some(next), held))
    }
}

/// Logs every warning and rejection of a full scan.
fn report_problems(report: &crate::loader::LoadReport) {
    for warning in &report.warnings {
        tracing::warn!("warning: {warning}");
    }
    for rejected in &report.rejected {
        tracing::warn!("rejected: {rejected}");
    }
}

/// Binds the configured address; without an explicit `base_url`, the URLs of the site
/// start with the address bound.
async fn bind(mut config: Config) -> Result<(TcpListener, SocketAddr, Arc<Config>), ServeError> {
    let bind_error = |source| ServeError::Bind {
        addr: config.addr,
        source,
    };
    let listener = TcpListener::bind(config.addr).await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    if !config.base_url_explicit {
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let listen_base = format!("{scheme}://{addr}");
        if config.site_url == config.base_url {
            config.site_url.clone_from(&listen_base);
        }
        config.base_url = listen_base;
    }
    Ok((listener, addr, Arc::new(config)))
}

/// Scans the folder and builds the first snapshot. The feeds and the index are written at
/// once: when they are the same as on disk, the snapshot keeps the time they were written
/// (its `Last-Modified` survives a restart). Every page follows once serving has started.
fn first_snapshot(mut regenerator: Regenerator) -> Result<(Regenerator, Snapshot), ServeError> {
    let config = Arc::clone(&regenerator.config);
    let report = regenerator.loader.scan()?;
    report_problems(&report);
    let mut snapshot = Snapshot::build(
        Arc::clone(&config),
        &report.articles,
        None,
        None,
        SystemTime::now(),
    )?;
    let hot: Vec<Route> = snapshot
        .routes()
        .into_iter()
        .filter(|r| {
            !matches!(
                r,
                Route::Archive(..) | Route::History(_) | Route::Article(_)
            )
        })
        .collect();
    match publish::publish_routes(&snapshot, &hot, &config.output) {
        Ok(published) if !published.changed_any() => {
            let on_disk = published
                .written
                .iter()
                .filter_map(|w| std::fs::metadata(&w.path).and_then(|m| m.modified()).ok())
                .max();
            if let Some(t) = on_disk {
                snapshot.date_all(t.min(SystemTime::now()));
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!("{e}; feeds are still served from memory"),
    }
    tracing::info!(
        articles = report.articles.len(),
        rejected = report.rejected.len(),
        files_read = report.files_read,
        files_restored = report.files_restored,
        "published"
    );
    Ok((regenerator, snapshot))
}

impl Server {
    /// Loads the configuration and the articles, publishes the feeds, binds the address and
    /// starts serving and watching.
    pub async fn start(options: ServeOptions) -> Result<Server, ServeError> {
        let config_path = options.config_path.clone().or_else(|| {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            default.exists().then_some(default)
        });
        let config = Config::load(config_path.as_deref(), &options.overrides)?;
        let tls = match &config.tls {
            Some((cert, key)) => Some(Tls::load(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })?),
            None => None,
        };
        let (stats_writer, stats) = start_stats(&config).await?;
        let ops = operations(&config)?;
        let (listener, addr, config) = bind(config).await?;
        // Everything that triggers a regeneration is in place before the first scan, so a
        // change (or a SIGHUP) made at any moment after `start` returns is seen.
        let (trigger, events) = mpsc::unbounded_channel();
        let triggers = Triggers {
            watched: folder_identity(&config.articles),
            _watcher: watch_files(&config.articles, config_path.as_deref(), trigger.clone()),
            #[cfg(unix)]
            hangup: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
            tls: tls.clone(),
            ops: ops.clone(),
        };
        let regenerator = Regenerator {
            config_stamp: config_path.as_deref().and_then(Regenerator::stamp),
            config_path,
            overrides: options.overrides,
            loader: loader_for(&config),
            config: Arc::clone(&config),
            new_loader: false,
            saved_at: None,
        };
        let limits = Limits {
            header_read_timeout: config.header_read_timeout,
            max_header_bytes: config.max_header_bytes,
            max_connections: config.max_connections,
            shutdown_timeout: config.shutdown_timeout,
        };
        let (regenerator, snapshot) =
            tokio::task::spawn_blocking(move || first_snapshot(regenerator)).await??;
        ops.metrics
            .articles(snapshot.articles.len(), regenerator.loader.rejected_count());

        let state = Arc::new(ArcSwap::from_pointee(snapshot));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (disk, latest) = watch::channel(state.load_full());
        let writer = tokio::spawn(disk_writer(latest, shutdown_rx.clone()));
        let regeneration = tokio::spawn(regeneration_loop(
            Arc::new(Mutex::new(regenerator)),
            triggers,
            Arc::clone(&state),
            trigger.clone(),
            events,
            disk,
            shutdown_rx.clone(),
        ));
        let mut http_shutdown = shutdown_rx;
        let http = tokio::spawn(server::run(
            listener,
            Arc::clone(&state),
            limits,
            async move {
                let _ = http_shutdown.wait_for(|stop| *stop).await;
            },
            stats,
            tls.clone(),
            ops,
        ));
        Ok(Server {
            addr,
            tls: tls.is_some(),
            state,
            trigger,
            shutdown,
            http,
            regeneration,
            writer,
            stats: stats_writer,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether it speaks TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The snapshot being served now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.load_full()
    }

    /// The URLs to give a feed reader: the subscription feeds in every format.
    pub fn feed_urls(&self) -> [String; 3] {
        let config = &self.snapshot().config;
        Format::ALL.map(|format| config.url(format.path()))
    }

    /// The URLs of every tag's feeds, by tag, in every format.
    pub fn tag_feed_urls(&self) -> Vec<(String, [String; 3])> {
        let snapshot = self.snapshot();
        snapshot
            .tags
            .values()
            .map(|tag| {
                let urls = Format::ALL
                    .map(|format| snapshot.config.url(&tag_feed_path(&tag.name, format)));
                (tag.name.clone(), urls)
            })
            .collect()
    }

    /// The URLs of every language's feeds, by language, in every format.
    pub fn language_feed_urls(&self) -> Vec<(String, [String; 3])> {
        let snapshot = self.snapshot();
        snapshot
            .languages
            .keys()
            .map(|code| {
                let urls = Format::ALL
                    .map(|format| snapshot.config.url(&language_feed_path(code, format)));
                (code.clone(), urls)
            })
            .collect()
    }

    /// The URL of the OPML list of every feed.
    pub fn opml_url(&self) -> String {
        self.snapshot().config.url(OPML_PATH)
    }

    /// The URLs of the oldest RFC 5005 archive page of each archived format, when the
    /// history has any: where a reader of the whole history starts.
    pub fn archive_urls(&self) -> Vec<String> {
        let snapshot = self.snapshot();
        if snapshot.archive_modified.is_empty() {
            return Vec::new();
        }
        Format::ARCHIVED
            .into_iter()
            .map(|format| snapshot.config.url(&archive_path(format, 1)))
            .collect()
    }

    /// Asks for a regeneration now (what SIGHUP does).
    pub fn regenerate(&self) {
        let _ = self.trigger.send(Wake::Everything);
    }

    /// Stops accepting, lets in-flight responses finish (within the configured time) and
    /// stops watching.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.http.await;
        let _ = self.regeneration.await;
        let _ = self.writer.await;
        if let Some(stats) = self.stats {
            let _ = tokio::task::spawn_blocking(move || stats.stop()).await;
        }
    }
}

/// Opens the statistics database and starts its writer, unless `stats = false` (then
/// nothing is touched). A database that cannot be used stops the start.
async fn start_stats(
    config: &Config,
) -> Result<(Option<crate::stats::Writer>, Option<StatsService>), ServeError> {
    let settings = config.stats.clone();
    if !settings.enabled {
        return Ok((None, None));
    }
    let db = settings.db.clone();
    let store =
        tokio::task::spawn_blocking(move || crate::stats::Store::open_for_recording(&db)).await??;
    let (writer, recorder) =
        crate::stats::Writer::start(store, settings.trusted_proxies).map_err(|source| {
            crate::stats::StatsError::Key {
                path: settings.db.clone(),
                source,
            }
        })?;
    let admin = settings.admin_token.map(|token| {
        Arc::new(Admin {
            token,
            db: settings.db.clone(),
        })
    });
    tracing::info!(path = %settings.db.display(), served = admin.is_some(), "recording subscriber statistics");
    Ok((Some(writer), Some(StatsService { recorder, admin })))
}

/// The server's operational parts from `config`: metrics, the access log (opened now: a
/// file that cannot be opened stops the start), polite polling.
fn operations(config: &Config) -> Result<Operations, ServeError> {
    let access_log = match &config.access_log {
        Some(path) => Some(AccessLog::open(access_log::Target::parse(path))?),
        None => None,
    };
    let polite = (!config.min_poll_interval.is_zero()).then(|| {
        Arc::new(PolitePolling::new(
            config.min_poll_interval,
            polite::MAX_CLIENTS,
        ))
    });
    Ok(Operations {
        metrics: Arc::new(Metrics::new()),
        metrics_token: config.stats.admin_token.clone().map(Arc::new),
        access_log,
        polite,
        trusted_proxies: Arc::from(config.stats.trusted_proxies.clone()),
        hubs: Arc::from(config.hubs.clone()),
    })
}

/// The copy of the served site in the output folder, which follows each new snapshot.
#[derive(Debug, Default)]
struct DiskCopy {
    /// The folder does not hold a whole snapshot (the last write failed, or none was made
    /// yet): the next write is of the whole site, not only of what changed.
    incomplete: bool,
}

impl DiskCopy {
    /// Writes `next` to its output folder: what changed since `previous` (which is on disk),
    /// or the whole site. A failure is logged, and feeds are still served from memory.
    /// Stops between two batches of files once `stop` is set: a server shutting down does
    /// not wait for a whole site to be written (the next start writes it again).
    fn follow(&mut self, next: &Snapshot, previous: Option<&Snapshot>, stop: &AtomicBool) {
        let output = &next.config.output;
        let result = match previous {
            Some(p) if !self.incomplete && p.config.output == *output => {
                publish::publish_changes_until(next, &next.changes_since(p), output, stop)
            }
            _ => publish::publish_site_until(next, output, stop),
        };
        match result {
            Ok(published) => {
                self.incomplete = false;
                let changed = published.written.iter().filter(|w| w.changed).count()
                    + published.pages.changed
                    + published.variants.changed;
                tracing::debug!(
                    files_changed = changed,
                    files_removed = published.removed.len(),
                    "output folder updated"
                );
            }
            Err(e) if e.source.kind() == std::io::ErrorKind::Interrupted => {
                self.incomplete = true;
                tracing::info!("stopped writing the output folder: shutting down");
            }
            Err(e) => {
                self.incomplete = true;
                tracing::error!("{e}; feeds are still served from memory");
            }
        }
    }
}

/// Which folder a path names now (device and inode), to notice that it was replaced.
fn folder_identity(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        meta.is_dir().then_some((0, 0))
    }
}

/// Compresses the documents `served` (the snapshot just stored in `state`) left pending,
/// and serves the result; the snapshot that is served after it. Runs before the next
/// regeneration, which starts from what is served; if compressing fails (a panic), the
/// documents stay served uncompressed and the next regeneration's snapshot compresses them.
async fn compress_and_store(served: Arc<Snapshot>, state: &ArcSwap<Snapshot>) -> Arc<Snapshot> {
    let started = Instant::now();
    let snapshot = Arc::clone(&served);
    match tokio::task::spawn_blocking(move || snapshot.compressed()).await {
        Ok(Some(compressed)) => {
            let compressed = Arc::new(compressed);
            state.store(Arc::clone(&compressed));
            tracing::debug!(
                generation = compressed.generation,
                millis = started.elapsed().as_millis() as u64,
                "compressed variants served"
            );
            compressed
        }
        Ok(None) => served,
        Err(e) => {
            tracing::error!(
                "compressing the new documents panicked: {e}; serving them uncompressed"
            );
            served
        }
    }
}

/// How many times as long as a whole rescan the next periodic one waits, at least: a
/// rescan stats every file (5 s at a million), and a safety net for lost file events must
/// not take more than a twentieth of a core.
const RESCAN_SPACING: u32 = 20;

/// Puts the next periodic rescan `RESCAN_SPACING` times `took` (the last whole rescan's
/// time) from now when that is later than `interval` (`rescan_interval_secs`).
fn space_rescans(
    ticker: &mut tokio::time::Interval,
    interval: std::time::Duration,
    took: std::time::Duration,
) {
    let spaced = took * RESCAN_SPACING;
    if spaced > interval {
        tracing::debug!(
            took_millis = took.as_millis() as u64,
            next_secs = spaced.as_secs(),
            "a whole rescan took long; the next periodic one waits longer than rescan_interval_secs"
        );
        ticker.reset_after(spaced);
    }
}

/// What wakes the regeneration loop besides the periodic rescan.
struct Triggers {
    /// Kept alive for as long as the loop runs; it sends into the loop's channel.
    _watcher: Option<Watch>,
    /// The articles folder the watcher follows (see [`folder_identity`]).
    watched: Option<(u64, u64)>,
    /// SIGHUP.
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    /// The TLS identity a SIGHUP reads again (renewed certificates).
    tls: Option<Tls>,
    /// Where regenerations are counted, and the access log a SIGHUP reopens (logrotate).
    ops: Operations,
}

/// Keeps the output folder a copy of the newest snapshot sent on `latest`: the whole site
/// first, then what changed. Writes never hold up regeneration or serving; snapshots that
/// come faster than they can be written are skipped to the newest.
async fn disk_writer(
    mut latest: watch::Receiver<Arc<Snapshot>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut copy = DiskCopy { incomplete: true };
    let mut written: Option<Arc<Snapshot>> = None;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (stop, mut shutdown) = (Arc::clone(&stop), shutdown.clone());
        tokio::spawn(async move {
            let _ = shutdown.wait_for(|stopping| *stopping).await;
            stop.store(true, Ordering::Relaxed);
        });
    }
    // After a failed write (a full or read-only disk), the whole site is written again when
    // a new snapshot comes, or after this long, doubled up to a minute while it keeps failing.
    let mut retry = RETRY_FIRST;
    loop {
        let next = Arc::clone(&latest.borrow_and_update());
        let previous = written.take();
        let target = Arc::clone(&next);
        let stop = Arc::clone(&stop);
        let outcome = tokio::task::spawn_blocking(move || {
            copy.follow(&target, previous.as_deref(), &stop);
            copy
        })
        .await;
        match outcome {
            Ok(c) => copy = c,
            Err(e) => {
                tracing::error!("writing the output folder panicked: {e}");
                copy = DiskCopy { incomplete: true };
            }
        }
        written = Some(next);
        let wait = if copy.incomplete {
            let wait = retry;
            retry = (retry * 2).min(RETRY_LAST);
            wait
        } else {
            retry = RETRY_FIRST;
            // No deadline: only a new snapshot gives work.
            std::time::Duration::from_secs(365 * 86_400)
        };
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { break },
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// The first wait before the output folder is written again after a failed write.
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);

/// The longest wait between two attempts to write a failing output folder.
const RETRY_LAST: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits for triggers and regenerates; one regeneration at a time.
async fn regeneration_loop(
    regenerator: Arc<Mutex<Regenerator>>,
    mut triggers: Triggers,
    state: Arc<ArcSwap<Snapshot>>,
    trigger: mpsc::UnboundedSender<Wake>,
    mut events: mpsc::UnboundedReceiver<Wake>,
    disk: watch::Sender<Arc<Snapshot>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (debounce, rescan, websub_timeout) = {
        let r = regenerator.lock().unwrap_or_else(|e| e.into_inner());
        (
            r.config.debounce,
            r.config.rescan_interval,
            r.config.websub_timeout,
        )
    };
    // Saved beside serving, so that the first answers do not wait for it.
    let first_save = Arc::clone(&regenerator);
    tokio::task::spawn_blocking(move || {
        let mut r = first_save.lock().unwrap_or_else(|e| e.into_inner());
        r.save_articles(true);
    });
    let notifier = Notifier::new(websub_timeout, std::time::Duration::from_secs(1))
        .with_metrics(Arc::clone(&triggers.ops.metrics));
    let mut ticker = tokio::time::interval(rescan);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        #[cfg(unix)]
        let hup = async {
            match triggers.hangup.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hup = std::future::pending::<Option<()>>();
        let mut pending = Pending::default();
        tokio::select! {
            Some(wake) = events.recv() => {
                pending.add(wake);
                tokio::time::sleep(debounce).await;
                while let Ok(wake) = events.try_recv() {
                    pending.add(wake);
                }
            }
            _ = ticker.tick() => pending.everything = true,
            _ = hup => {
                tracing::info!("SIGHUP: regenerating");
                pending.everything = true;
                if let Some(log) = &triggers.ops.access_log {
                    log.reopen();
                }
                if let Some(tls) = &triggers.tls {
                    match tls.reload() {
                        Ok(()) => tracing::info!(cert = %tls.files.cert.display(), "SIGHUP: TLS certificate and key reloaded"),
                        Err(e) => tracing::error!("{e}; the certificate in use stays"),
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
        let current = state.load_full();
        let worker = Arc::clone(&regenerator);
        let started = Instant::now();
        let everything = pending.everything;
        let outcome = tokio::task::spawn_blocking(move || {
            let mut r = worker.lock().unwrap_or_else(|e| e.into_inner());
            r.regenerate(&current, &pending)
        })
        .await;
        let metrics = &triggers.ops.metrics;
        let took = started.elapsed();
        let seconds = took.as_secs_f64();
        if everything {
            space_rescans(&mut ticker, rescan, took);
        }
        let outcome = match outcome {
            Ok(outcome) => {
                let kind = match &outcome {
                    Ok((Some(_), _)) => "changed",
                    Ok((None, _)) => "unchanged",
                    Err(_) => "failed",
                };
                metrics.regeneration(kind, seconds);
                Ok(outcome)
            }
            Err(e) => {
                metrics.regeneration("failed", seconds);
                Err(e)
            }
        };
        match outcome {
            Ok(Ok((next, held))) => {
                if let Some(next) = next {
                    let previous = state.load_full();
                    let topics = next.changed_topics(&previous);
                    drop(previous);
                    let hubs = next.config.hubs.clone();
                    let next = Arc::new(next);
                    // Readers get the new feeds first, then their compressed variants; the
                    // disk copy follows.
                    state.store(Arc::clone(&next));
                    let next = compress_and_store(next, &state).await;
                    if !hubs.is_empty() && !topics.is_empty() {
                        notifier.publish(&hubs, &topics);
                    }
                    disk.send_replace(next);
                }
                if !held.is_empty() {
                    // Look at the files held back again once they had time to settle.
                    let trigger = trigger.clone();
                    let delay = debounce.max(std::time::Duration::from_millis(10));
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = trigger.send(Wake::Names(held));
                    });
                }
            }
            Ok(Err(e)) => tracing::error!("regeneration failed: {e}; serving the last good feeds"),
            Err(e) => tracing::error!("regeneration panicked: {e}; serving the last good feeds"),
        }
        // Counted and saved after the new feeds are served: at a million articles, counting
        // the rejected files takes milliseconds and a save seconds.
        let saver = Arc::clone(&regenerator);
        let metrics = Arc::clone(metrics);
        let published = state.load().articles.len();
        tokio::task::spawn_blocking(move || {
            let mut r = saver.lock().unwrap_or_else(|e| e.into_inner());
            metrics.articles(published, r.loader.rejected_count());
            r.save_articles(false);
        });
        // The articles folder was removed, replaced or (re)created, or the configuration
        // names another one: follow the folder that is there now.
        let (articles, config_path) = {
            let r = regenerator.lock().unwrap_or_else(|e| e.into_inner());
            (r.config.articles.clone(), r.config_path.clone())
        };
        let identity = folder_identity(&articles);
        if identity != triggers.watched {
            tracing::info!(path = %articles.display(), "the articles folder changed; watching it anew");
            triggers._watcher = watch_files(&articles, config_path.as_deref(), trigger.clone());
            triggers.watched = identity;
            if identity.is_some() {
                // Files written between the folder's creation and the new watch.
                let _ = trigger.send(Wake::Everything);
            }
        }
    }
    let last_save = Arc::clone(&regenerator);
    let _ = tokio::task::spawn_blocking(move || {
        let mut r = last_save.lock().unwrap_or_else(|e| e.into_inner());
        r.save_articles(true);
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_whole_rescan_spaces_the_next_periodic_one() {
        let interval = Duration::from_secs(30);
        let mut ticker = tokio::time::interval(interval);
        let start = ticker.tick().await;
        // 0.5 s a rescan: 20 times that is under the interval, which stays.
        space_rescans(&mut ticker, interval, Duration::from_millis(500));
        assert_eq!(ticker.tick().await - start, interval);
        // 5 s (a million files): the next one waits 100 s.
        let now = tokio::time::Instant::now();
        space_rescans(&mut ticker, interval, Duration::from_secs(5));
        assert_eq!(ticker.tick().await - now, Duration::from_secs(100));
        // And the interval holds again after a quick one.
        let now = tokio::time::Instant::now();
        assert_eq!(ticker.tick().await - now, interval);
    }
}
