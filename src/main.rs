//! The `feedpub` command line: parses flags, calls the library, maps outcomes to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use std::sync::Arc;
use std::time::SystemTime;

use feedpub::{ping, publish, websub, Config, Loader, Overrides, Snapshot};

/// jemalloc instead of the system's allocator: it gives freed pages back to the system
/// wherever they are, from a background thread, so that what a scan of a large folder or a
/// copy of a large site used for a moment does not stay resident, as it does in glibc's
/// per-thread arenas (BENCHMARKS.md, "Scale: 100,000 articles in less than 150 MB").
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Turns a folder of articles into RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds (with tag feeds,
/// RFC 5005 archive pages and a page per article), and serves them.
#[derive(Parser)]
#[command(name = "feedpub", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the articles and write the whole site to OUT.
    ///
    /// Writes the feeds (OUT/rss.xml, atom.xml, feed.json), each tag's feeds
    /// (OUT/tags/{tag}/), the RFC 5005 archive pages (OUT/archive/), the index page and one
    /// page per article (OUT/articles/{id}.html): the same bytes `serve` answers with.
    /// Exits 0 when at least one article was published, 1 when none could be, 2 on a
    /// configuration error. Rejected articles are reported and skipped.
    Build {
        #[command(flatten)]
        common: Common,
        /// Folder to write the feeds to (default: `output` in the configuration, else `feeds`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Public URL feedpub is reached at; feeds' self links and item links start with it.
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// After a successful build, announce the changed feeds to the WebSub hubs, as
        /// `feedpub ping` does; the exit status is then 1 if a hub did not accept one.
        #[arg(long)]
        ping: bool,
    },
    /// Announce the feeds of OUT that changed since the last ping to the WebSub hubs.
    ///
    /// For a site written by `build` and copied to a static host: run it once the upload is
    /// done, so that the hubs fetch the new feeds. Reads the feeds in OUT as they are on disk
    /// (rss.xml, atom.xml, feed.json and tags/{tag}/...; archive pages are not topics) and
    /// tells every hub of `hubs` in the configuration `hub.mode=publish&hub.url=URL` for each
    /// feed whose bytes are new or changed, URL being the feed's address under the base URL,
    /// as `serve` announces it. A failing hub is retried 3 times, after 0.5, 1 and 2 s; each
    /// attempt may take `websub_timeout_secs`. A feed is recorded in OUT/.feedpub-pinged
    /// (its SHA-256) once every hub has accepted it; otherwise the next ping announces it
    /// again. A state file that cannot be read is reported and ignored: every feed is
    /// announced again.
    ///
    /// Exits 0 when every hub accepted every changed feed, when nothing changed, or when no
    /// hub is configured (nothing is read or written then); 1 when a hub did not accept a
    /// feed, OUT holds no feed or cannot be read, or the state file cannot be written; 2 on a
    /// configuration error.
    Ping {
        #[command(flatten)]
        common: Common,
        /// Folder the site was built in (default: `output` in the configuration, else `feeds`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Public URL the site is reached at; the topics announced start with it.
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Publish the feeds, then serve them over HTTP, regenerating when articles change.
    ///
    /// Serves /rss.xml, /atom.xml, /feed.json, /tags/{tag}/..., /archive/{rss|atom}/N.xml,
    /// / (an index page), /articles/{id}.html and /healthz, and keeps OUT a copy of the site.
    /// SIGHUP forces a regeneration; SIGINT and SIGTERM shut down gracefully.
    /// Log verbosity follows RUST_LOG (default: info; debug logs every request).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default: `addr` in the configuration, else 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        addr: Option<String>,
        /// Folder to write the feeds to (default: `output` in the configuration, else `feeds`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Public URL feedpub is reached at (default: http:// and the listening address).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Load the articles and report every error and warning as FILE:LINE: message.
    ///
    /// Exits 1 when any article is rejected, 2 on a configuration error.
    Check {
        #[command(flatten)]
        common: Common,
    },
    /// Subscriber statistics from the database `serve` records polls into (`stats_db`):
    /// subscribers per feed over the last 24 hours, aggregators, how readers poll, history.
    ///
    /// Exits 1 when there is no database or it cannot be read, 2 on a configuration error.
    #[command(args_conflicts_with_subcommands = true)]
    Stats {
        /// Configuration file (default: ./feedpub.toml when it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON (what /stats.json answers) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<StatsAction>,
    },
}

#[derive(Subcommand)]
enum StatsAction {
    /// Add the feed polls of access logs in the combined format (nginx's and Apache's
    /// `combined`); lines already imported are not counted again. Lines that are not in
    /// the format are counted and reported, never fatal.
    Import {
        /// Configuration file (default: ./feedpub.toml when it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Access logs to read.
        #[arg(value_name = "LOG", required = true)]
        logs: Vec<PathBuf>,
    },
}

#[derive(Args)]
struct Common {
    /// Folder of article files (default: `articles` in the configuration, else `seeds`).
    #[arg(long, value_name = "DIR")]
    articles: Option<PathBuf>,
    /// Configuration file (default: ./feedpub.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Build {
            common,
            out,
            base_url,
            ping,
        } => {
            let overrides = Overrides {
                articles: common.articles,
                output: out,
                base_url,
                addr: None,
            };
            let Some(config) = load_config(common.config, &overrides) else {
                return ExitCode::from(2);
            };
            let built = build(&config);
            if ping && built == ExitCode::SUCCESS {
                ping_site(&config)
            } else {
                built
            }
        }
        Command::Ping {
            common,
            out,
            base_url,
        } => {
            let overrides = Overrides {
                articles: common.articles,
                output: out,
                base_url,
                addr: None,
            };
            let Some(config) = load_config(common.config, &overrides) else {
                return ExitCode::from(2);
            };
            ping_site(&config)
        }
        Command::Serve {
            common,
            addr,
            out,
            base_url,
        } => {
            let options = feedpub::ServeOptions {
                config_path: common.config,
                overrides: Overrides {
                    articles: common.articles,
                    output: out,
                    base_url,
                    addr,
                },
            };
            serve(options)
        }
        Command::Stats {
            config,
            json,
            action,
        } => match action {
            None => {
                let Some(config) = load_config(config, &Overrides::default()) else {
                    return ExitCode::from(2);
                };
                show_stats(&config, json)
            }
            Some(StatsAction::Import { config, logs }) => {
                let Some(config) = load_config(config, &Overrides::default()) else {
                    return ExitCode::from(2);
                };
                import_logs(&config, &logs)
            }
        },
        Command::Check { common } => {
            let overrides = Overrides {
                articles: common.articles,
                ..Overrides::default()
            };
            let Some(config) = load_config(common.config, &overrides) else {
                return ExitCode::from(2);
            };
            check(&config)
        }
    }
}

fn load_config(path: Option<PathBuf>, overrides: &Overrides) -> Option<Config> {
    match Config::load(path.as_deref(), overrides) {
        Ok(config) => Some(config),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn report_problems(report: &feedpub::LoadReport) {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    for rejected in &report.rejected {
        eprintln!("rejected: {rejected}");
    }
}

fn build(config: &Config) -> ExitCode {
    // A progress bar on a terminal only; nothing when the output is a file or a pipe.
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "loading {bar:40} {pos}/{len} files ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    // The process ends right after the build: the loader and the articles are never
    // dropped, since freeing every parsed article one by one would only cost time.
    // As in `serve`, an article's text stays in its file until its page is written: a
    // million articles hold 4.5 GB of text, which a small server cannot keep at once.
    let mut loader = std::mem::ManuallyDrop::new(
        Loader::new(&config.articles, config.max_article_bytes)
            .with_max_files(config.max_articles)
            .with_text_in_files(),
    );
    let scanned = loader.scan_with_progress(&progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match scanned {
        Ok(report) => std::mem::ManuallyDrop::new(report),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    report_problems(&report);
    if report.articles.is_empty() {
        eprintln!(
            "error: no article could be published from {}; {} file(s) rejected; nothing written",
            config.articles.display(),
            report.rejected.len()
        );
        return ExitCode::from(1);
    }
    // The same snapshot `serve` starts from, written whole: feeds, index, tag feeds,
    // archive pages and article pages.
    let config = Arc::new(config.clone());
    let now = SystemTime::now();
    let snapshot = match Snapshot::build(Arc::clone(&config), &report.articles, None, None, now) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match publish::publish_site(&snapshot, &config.output) {
        Ok(published) => {
            print_published(&report, &snapshot, &published, &config);
            // The process ends here; the snapshot is left to its exit, like the articles.
            std::mem::forget(snapshot);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// What `build` did: the feeds and the index file by file, the pages as counts.
fn print_published(
    report: &feedpub::LoadReport,
    snapshot: &Snapshot,
    published: &publish::Published,
    config: &Config,
) {
    println!(
        "published {} article(s) from {} ({} in the feeds, {} rejected)",
        report.articles.len(),
        config.articles.display(),
        snapshot.feeds.items.len(),
        report.rejected.len()
    );
    for w in &published.written {
        let what = if w.changed { "wrote" } else { "unchanged" };
        println!("  {what} {} ({} bytes)", w.path.display(), w.bytes);
    }
    let (pages, variants) = (published.pages, published.variants);
    println!(
        "  {} article, archive and history page(s): {} written, {} unchanged",
        pages.files,
        pages.changed,
        pages.files - pages.changed
    );
    println!(
        "  {} precompressed variant(s) (.gz, .br): {} written, {} unchanged",
        variants.files,
        variants.changed,
        variants.files - variants.changed
    );
    for path in &published.removed {
        println!("  removed {}", path.display());
    }
}

fn check(config: &Config) -> ExitCode {
    let mut loader =
        Loader::new(&config.articles, config.max_article_bytes).with_max_files(config.max_articles);
    let report = match loader.scan() {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    for warning in &report.warnings {
        println!("{warning}: warning");
    }
    for rejected in &report.rejected {
        println!("{rejected}");
    }
    println!(
        "{} article(s) ok, {} rejected, {} warning(s), {} draft(s) not published",
        report.articles.len(),
        report.rejected.len(),
        report.warnings.len(),
        report.drafts
    );
    if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Logs to standard error, as RUST_LOG says, else at `default`.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// `ping`, and the end of `build --ping`: announces the changed feeds of the output folder.
fn ping_site(config: &Config) -> ExitCode {
    if config.hubs.is_empty() {
        println!("no WebSub hubs configured (`hubs` in the configuration): nothing to ping");
        return ExitCode::SUCCESS;
    }
    // Each notification is already one line of the report; the log adds the retries, for
    // those who ask for it.
    init_logging("off");
    let plan = match ping::Plan::read(config) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(warning) = &plan.warning {
        eprintln!("warning: {warning}; every feed is announced again");
    }
    let topics = plan.topics();
    let outcomes = if topics.is_empty() {
        Vec::new()
    } else {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the runtime: {e}");
                return ExitCode::from(1);
            }
        };
        let notifier = websub::Notifier::new(config.websub_timeout, ping::FIRST_BACKOFF);
        runtime.block_on(ping::announce(&notifier, &config.hubs, &topics))
    };
    let mut failed = 0;
    for outcome in &outcomes {
        match &outcome.result {
            Ok(_) => println!("pinged {} for {}", outcome.hub, outcome.topic),
            Err(e) => {
                failed += 1;
                eprintln!(
                    "error: {} did not accept {}: {e}",
                    outcome.hub, outcome.topic
                );
            }
        }
    }
    if let Err(e) = plan.record(&config.hubs, &outcomes) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    if topics.is_empty() {
        println!(
            "nothing changed: the {} feed(s) in {} are as last pinged",
            plan.feeds().len(),
            config.output.display()
        );
        ExitCode::SUCCESS
    } else if failed == 0 {
        println!(
            "pinged {} hub(s) for {} changed feed(s) of {}",
            config.hubs.len(),
            topics.len(),
            plan.feeds().len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: {failed} of {} notification(s) failed; the next ping announces those feeds again",
            outcomes.len()
        );
        ExitCode::from(1)
    }
}

fn serve(options: feedpub::ServeOptions) -> ExitCode {
    init_logging("info");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let server = match feedpub::Server::start(options).await {
            Ok(server) => server,
            Err(e @ (feedpub::ServeError::Config(_) | feedpub::ServeError::Tls(_))) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            Err(feedpub::ServeError::Stats(e)) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        // Handlers first, so that a signal sent as soon as the banner appears is handled.
        let stop = stop_signal();
        let [rss, atom, json] = server.feed_urls();
        let scheme = if server.is_tls() { "https" } else { "http" };
        println!("feedpub is serving on {scheme}://{}", server.addr());
        println!("  point a feed reader at: {rss}");
        println!("                     or: {atom}");
        println!("                     or: {json}");
        for (code, [rss, atom, json]) in server.language_feed_urls() {
            println!("  language {code}: {rss} {atom} {json}");
        }
        for (tag, [rss, atom, json]) in server.tag_feed_urls() {
            println!("  tag {tag}: {rss} {atom} {json}");
        }
        println!("  every feed (OPML):     {}", server.opml_url());
        let archives = server.archive_urls();
        if !archives.is_empty() {
            println!("  history (RFC 5005):    {}", archives.join(" "));
        }
        println!("  index page:            {scheme}://{}/", server.addr());
        stop.await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// `stats`: the figures from the database, as a table or JSON.
fn show_stats(config: &Config, json: bool) -> ExitCode {
    let rows = feedpub::stats::store::Reader::open(&config.stats.db).and_then(|mut reader| {
        reader
            .rows(SystemTime::now())
            .map_err(|source| feedpub::stats::StatsError::Database {
                path: config.stats.db.clone(),
                source,
            })
    });
    match rows {
        Ok(rows) => {
            let figures = feedpub::stats::report::figures(&rows);
            if json {
                println!("{}", figures.to_json());
            } else {
                print!("{}", figures.to_table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `stats import`: adds the polls of access logs.
fn import_logs(config: &Config, logs: &[PathBuf]) -> ExitCode {
    let report = feedpub::stats::Store::open(&config.stats.db)
        .and_then(|mut store| store.import(logs, SystemTime::now()));
    match report {
        Ok(report) => {
            println!(
                "imported {} poll(s) from {} line(s) of {} log(s) into {}; {} already imported",
                report.polls,
                report.lines,
                logs.len(),
                config.stats.db.display(),
                report.duplicates
            );
            if report.too_old > 0 {
                println!(
                    "{} poll(s) older than the {} days kept were left out",
                    report.too_old,
                    feedpub::stats::store::RETENTION_DAYS
                );
            }
            if let Some((file, line)) = &report.first_skipped {
                println!(
                    "{} lines skipped, first at {}:{line}",
                    report.skipped,
                    file.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Installs the SIGTERM and SIGINT handlers now and returns a future that completes when
/// either arrives.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let handlers = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
