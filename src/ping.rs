//! WebSub pings for a static site (`feedpub ping`, `feedpub build --ping`): what `serve`
//! does after a regeneration, for a site whose output folder is served by another web
//! server.
//!
//! The feeds are read from the output folder as they are on disk: the subscription feeds
//! and the tag feeds, never archive pages. Each one whose SHA-256 differs from the one
//! recorded in the state file [`STATE_FILE`] of that folder (or that it does not list) is a
//! topic, announced to every hub; a topic is recorded once every hub has accepted it, so a
//! topic a hub did not accept is announced again by the next ping. Topic URLs are those
//! `serve` announces: [`Config::url`] of the feed's [`Route::path`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::lang::normalize_tag;
use crate::publish::{write_atomically, PublishError, Written};
use crate::urls::{tag_slug, Format, Route};
use crate::websub::{Notifier, NotifyError};

/// The state file, in the output folder: what was last announced. Its name starts with a
/// dot, so `build` leaves it alone and static hosts commonly do not publish it.
pub const STATE_FILE: &str = ".feedpub-pinged";

/// The first line of the state file; the number is the version of its format.
pub const STATE_HEADER: &str = "# feedpub ping state 1";

/// How many notifications are under way at once: enough that a site with many tags is
/// announced in seconds, few enough not to flood a public hub.
pub const IN_FLIGHT: usize = 8;

/// The wait before the first retry of a notification (then twice as long each time). Shorter
/// than `serve`'s, as someone is waiting at the command line: a failing hub costs 3.5 s.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The SHA-256 of a feed file's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedDigest([u8; 32]);

impl FeedDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> FeedDigest {
        FeedDigest(Sha256::digest(bytes).into())
    }

    /// Reads 64 lower-case hexadecimal digits.
    pub fn from_hex(hex: &str) -> Option<FeedDigest> {
        let digits = hex.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let value = |d: u8| match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = value(pair[0])? << 4 | value(pair[1])?;
        }
        Some(FeedDigest(bytes))
    }
}

impl fmt::Display for FeedDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for FeedDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedDigest({self})")
    }
}

/// Why `ping` could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// The output folder cannot be listed.
    #[error("{}: cannot read the output folder: {source}", path.display())]
    ReadFolder {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A feed file (or the tags folder) exists but cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    ReadFeed {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The output folder holds no feed at all: it is not a built site.
    #[error(
        "{}: no feed (rss.xml, atom.xml, feed.json or tags/*/) in the output folder; run `feedpub build` first",
        path.display()
    )]
    NoFeeds {
        /// The folder.
        path: PathBuf,
    },
    /// The state file cannot be written.
    #[error(transparent)]
    WriteState(#[from] PublishError),
}

/// Why the state file was set aside (and every feed announced again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The file exists but cannot be read, or is not UTF-8.
    #[error("{}: cannot read the ping state: {reason}", path.display())]
    Unreadable {
        /// The state file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The first line is not [`STATE_HEADER`].
    #[error("{}:1: expected `{STATE_HEADER}`", path.display())]
    Header {
        /// The state file.
        path: PathBuf,
    },
    /// A line is not `SHA256HEX TOPIC-URL`, or names a topic listed before.
    #[error("{}:{line}: {problem}", path.display())]
    Line {
        /// The state file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// What was last announced: the digest of each topic's feed when every hub accepted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingState {
    topics: BTreeMap<String, FeedDigest>,
}

impl PingState {
    /// Reads the text of the state file `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<PingState, StateError> {
        let mut lines = text.lines();
        if lines.next() != Some(STATE_HEADER) {
            return Err(StateError::Header { path: path.into() });
        }
        let mut topics = BTreeMap::new();
        for (index, line) in lines.enumerate() {
            let problem = |problem| StateError::Line {
                path: path.into(),
                line: index + 2,
                problem,
            };
            if line.is_empty() {
                continue;
            }
            let (hex, topic) = line
                .split_once(' ')
                .ok_or_else(|| problem("expected `SHA256HEX TOPIC-URL`"))?;
            let digest =
                FeedDigest::from_hex(hex).ok_or_else(|| problem("expected a SHA-256 in hex"))?;
            if topic.is_empty() || topic.contains(char::is_whitespace) {
                return Err(problem("expected a URL after the digest"));
            }
            if topics.insert(topic.to_string(), digest).is_some() {
                return Err(problem("a topic listed twice"));
            }
        }
        Ok(PingState { topics })
    }

    /// The text of the state file: the header, then one `SHA256HEX TOPIC-URL` line per topic,
    /// sorted by topic.
    pub fn to_text(&self) -> String {
        let mut text = format!("{STATE_HEADER}\n");
        for (topic, digest) in &self.topics {
            text.push_str(&format!("{digest} {topic}\n"));
        }
        text
    }

    /// Reads the state file of the output folder `output`: empty when there is none, and,
    /// with the reason, when it cannot be read or parsed (announcing every feed again is
    /// harmless).
    pub fn load(output: &Path) -> (PingState, Option<StateError>) {
        let path = output.join(STATE_FILE);
        let text = match fs::read(&path).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (PingState::default(), None),
            Err(e) => return (PingState::default(), Some(unreadable(&path, e.to_string()))),
            Ok(Err(_)) => {
                let reason = "not UTF-8".to_string();
                return (PingState::default(), Some(unreadable(&path, reason)));
            }
        };
        match PingState::parse(&path, &text) {
            Ok(state) => (state, None),
            Err(e) => (PingState::default(), Some(e)),
        }
    }

    /// The digest recorded for `topic`.
    pub fn get(&self, topic: &str) -> Option<FeedDigest> {
        self.topics.get(topic).copied()
    }

    /// The topics recorded, sorted.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.topics.keys().map(String::as_str)
    }

    /// The state after a ping of `feeds` (every feed of the folder) in which the topics
    /// `accepted` were accepted by every hub: those take their feed's digest, the others keep
    /// theirs, and the topics of feeds that are gone are dropped.
    pub fn after(&self, feeds: &[FeedFile], accepted: &BTreeSet<&str>) -> PingState {
        let topics = feeds
            .iter()
            .filter_map(|feed| {
                let digest = if accepted.contains(feed.topic.as_str()) {
                    Some(feed.digest)
                } else {
                    self.get(&feed.topic)
                };
                digest.map(|d| (feed.topic.clone(), d))
            })
            .collect();
        PingState { topics }
    }
}

fn unreadable(path: &Path, reason: String) -> StateError {
    StateError::Unreadable {
        path: path.into(),
        reason,
    }
}

/// One feed of the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFile {
    /// `Route::Feed`, `Route::Tag` or `Route::Language`.
    pub route: Route,
    /// Its URL: the WebSub topic.
    pub topic: String,
    /// The digest of its bytes on disk.
    pub digest: FeedDigest,
}

/// The slug of the tag whose feeds `Route::file` puts in the folder `tags/{name}`; `None`
/// for any other folder (temporary or hidden ones, or one no tag's slug names).
pub fn tag_slug_of_folder(name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with('.') {
        return None;
    }
    let decoded = percent_decode_str(name).decode_utf8().ok()?.into_owned();
    let expected = format!("tags/{name}/{}", Format::Rss.file_name());
    [name.to_string(), decoded].into_iter().find(|slug| {
        tag_slug(slug) == *slug
            && Route::Tag(slug.clone(), Format::Rss).file() == Some(expected.clone())
    })
}

/// The language whose feeds `Route::file` puts in the folder `lang/{name}`: a BCP 47 tag
/// in canonical case; `None` for any other folder.
pub fn language_of_folder(name: &str) -> Option<String> {
    normalize_tag(name).ok().filter(|code| code == name)
}

/// The names of the folders of `parent` that `accept` maps to a key, sorted; none when
/// `parent` does not exist.
fn folder_names(
    parent: &Path,
    accept: fn(&str) -> Option<String>,
) -> Result<BTreeSet<String>, PingError> {
    let mut names = BTreeSet::new();
    match fs::read_dir(parent) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|source| PingError::ReadFeed {
                    path: parent.to_path_buf(),
                    source,
                })?;
                let is_dir = fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
                let name = entry.file_name().to_str().and_then(accept);
                if let (true, Some(name)) = (is_dir, name) {
                    names.insert(name);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PingError::ReadFeed {
                path: parent.to_path_buf(),
                source,
            })
        }
    }
    Ok(names)
}

/// The feed routes whose files exist in the output folder `output`: the subscription feeds,
/// then the tag feeds by slug, then the language feeds by tag, each in [`Format::ALL`]
/// order.
pub fn feed_routes(output: &Path) -> Result<Vec<Route>, PingError> {
    fs::read_dir(output).map_err(|source| PingError::ReadFolder {
        path: output.into(),
        source,
    })?;
    let mut routes: Vec<Route> = Format::ALL.into_iter().map(Route::Feed).collect();
    for slug in folder_names(&output.join("tags"), tag_slug_of_folder)? {
        routes.extend(Format::ALL.map(|format| Route::Tag(slug.clone(), format)));
    }
    for code in folder_names(&output.join("lang"), language_of_folder)? {
        routes.extend(Format::ALL.map(|format| Route::Language(code.clone(), format)));
    }
    Ok(routes
        .into_iter()
        .filter(|route| {
            route
                .file()
                .is_some_and(|file| fs::metadata(output.join(file)).is_ok_and(|m| m.is_file()))
        })
        .collect())
}

/// Every feed of `config.output`, with its topic URL and the digest of its bytes.
pub fn read_feeds(config: &Config) -> Result<Vec<FeedFile>, PingError> {
    let mut feeds = Vec::new();
    for route in feed_routes(&config.output)? {
        let (Some(file), Some(path)) = (route.file(), route.path()) else {
            continue;
        };
        let file = config.output.join(file);
        let bytes = fs::read(&file).map_err(|source| PingError::ReadFeed { path: file, source })?;
        feeds.push(FeedFile {
            topic: config.url(&path),
            digest: FeedDigest::of(&bytes),
            route,
        });
    }
    if feeds.is_empty() {
        return Err(PingError::NoFeeds {
            path: config.output.clone(),
        });
    }
    Ok(feeds)
}

/// One notification of one hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The hub.
    pub hub: String,
    /// The topic.
    pub topic: String,
    /// The status the hub accepted it with, or why it did not.
    pub result: Result<u16, NotifyError>,
}

/// A ping of one output folder: its feeds, and what was announced before.
#[derive(Debug, Clone)]
pub struct Plan {
    output: PathBuf,
    feeds: Vec<FeedFile>,
    last: PingState,
    /// Why the state file was set aside, when it was.
    pub warning: Option<StateError>,
}

impl Plan {
    /// Reads the feeds and the state file of `config.output`.
    pub fn read(config: &Config) -> Result<Plan, PingError> {
        let feeds = read_feeds(config)?;
        let (last, warning) = PingState::load(&config.output);
        Ok(Plan {
            output: config.output.clone(),
            feeds,
            last,
            warning,
        })
    }

    /// Every feed of the folder.
    pub fn feeds(&self) -> &[FeedFile] {
        &self.feeds
    }

    /// The topics to announce: the feeds that are new or whose bytes changed since they were
    /// last accepted.
    pub fn topics(&self) -> Vec<String> {
        self.feeds
            .iter()
            .filter(|feed| self.last.get(&feed.topic) != Some(feed.digest))
            .map(|feed| feed.topic.clone())
            .collect()
    }

    /// The state after `outcomes`: a topic counts as accepted when each of `hubs` accepted
    /// it.
    pub fn state_after(&self, hubs: &[String], outcomes: &[Outcome]) -> PingState {
        let accepted: BTreeSet<&str> = self
            .feeds
            .iter()
            .map(|feed| feed.topic.as_str())
            .filter(|topic| {
                !hubs.is_empty()
                    && hubs.iter().all(|hub| {
                        outcomes
                            .iter()
                            .any(|o| o.hub == *hub && o.topic == *topic && o.result.is_ok())
                    })
            })
            .collect();
        self.last.after(&self.feeds, &accepted)
    }

    /// Writes the state after `outcomes` to the state file, atomically.
    pub fn record(&self, hubs: &[String], outcomes: &[Outcome]) -> Result<Written, PingError> {
        let text = self.state_after(hubs, outcomes).to_text();
        Ok(write_atomically(&self.output, STATE_FILE, text.as_bytes())?)
    }
}

/// Announces each of `topics` to each of `hubs`, [`IN_FLIGHT`] notifications at a time;
/// the outcomes come topic by topic, hubs in their order.
pub async fn announce(notifier: &Notifier, hubs: &[String], topics: &[String]) -> Vec<Outcome> {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let pairs = topics
        .iter()
        .flat_map(|topic| hubs.iter().map(move |hub| (hub.clone(), topic.clone())));
    for (index, (hub, topic)) in pairs.enumerate() {
        let (notifier, permits) = (notifier.clone(), Arc::clone(&permits));
        tasks.spawn(async move {
            // The semaphore is never closed, so the permit always comes.
            let _permit = permits.acquire_owned().await;
            let result = notifier.try_notify(&hub, &topic).await;
            (index, Outcome { hub, topic, result })
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcome) => outcomes.push(outcome),
            // A lost outcome counts as not accepted (see `Plan::state_after`).
            Err(e) => tracing::error!(error = %e, "a WebSub notification task failed"),
        }
    }
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERSIAN: &str = "ترافیک";

    fn config(output: &Path) -> Config {
        let overrides = crate::config::Overrides {
            output: Some(output.into()),
            ..Default::default()
        };
        Config::parse(
            Path::new("feedpub.toml"),
            "base_url = \"http://feeds.test\"\n",
            &overrides,
        )
        .unwrap()
    }

    fn digest(byte: u8) -> FeedDigest {
        FeedDigest([byte; 32])
    }

    fn feed(topic: &str, byte: u8) -> FeedFile {
        FeedFile {
            route: Route::Feed(Format::Rss),
            topic: topic.into(),
            digest: digest(byte),
        }
    }

    #[test]
    fn digests_are_written_and_read_as_lower_case_hex() {
        let d = FeedDigest::of(b"abc");
        assert_eq!(
            d.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(FeedDigest::from_hex(&d.to_string()), Some(d));
        assert_eq!(FeedDigest::from_hex(&d.to_string().to_uppercase()), None);
        assert_eq!(FeedDigest::from_hex(&d.to_string()[1..]), None);
        assert_eq!(FeedDigest::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn state_text_round_trips_sorted_by_topic() {
        let path = Path::new("out/.feedpub-pinged");
        let text = format!(
            "{STATE_HEADER}\n{} http://a.test/rss.xml\n{} http://a.test/tags/%D8%AA/atom.xml\n",
            digest(1),
            digest(2)
        );
        let state = PingState::parse(path, &text).unwrap();
        assert_eq!(state.get("http://a.test/rss.xml"), Some(digest(1)));
        assert_eq!(state.to_text(), text);
        // Written sorted whatever the order read.
        let shuffled = format!(
            "{STATE_HEADER}\n{} http://a.test/z\n{} http://a.test/a\n",
            digest(3),
            digest(4)
        );
        let state = PingState::parse(path, &shuffled).unwrap();
        assert_eq!(
            state.to_text(),
            format!(
                "{STATE_HEADER}\n{} http://a.test/a\n{} http://a.test/z\n",
                digest(4),
                digest(3)
            )
        );
        assert_eq!(PingState::default().to_text(), format!("{STATE_HEADER}\n"));
        assert_eq!(
            PingState::parse(path, STATE_HEADER),
            Ok(PingState::default())
        );
    }

    #[test]
    fn corrupt_state_names_the_file_and_line() {
        let path = Path::new("out/.feedpub-pinged");
        let line = |text: &str| match PingState::parse(path, text) {
            Err(StateError::Line { line, .. }) => line,
            other => panic!("{text:?}: {other:?}"),
        };
        let ok = format!("{} http://a.test/rss.xml", digest(1));
        assert_eq!(
            PingState::parse(path, "garbage"),
            Err(StateError::Header { path: path.into() })
        );
        assert!(matches!(
            PingState::parse(path, ""),
            Err(StateError::Header { .. })
        ));
        assert!(matches!(
            PingState::parse(path, "# feedpub ping state 2\n"),
            Err(StateError::Header { .. })
        ));
        assert_eq!(line(&format!("{STATE_HEADER}\n{ok}\nnonsense\n")), 3);
        assert_eq!(line(&format!("{STATE_HEADER}\nabc http://a.test/\n")), 2);
        assert_eq!(line(&format!("{STATE_HEADER}\n{} \n", digest(1))), 2);
        assert_eq!(line(&format!("{STATE_HEADER}\n{ok} extra\n")), 2);
        assert_eq!(line(&format!("{STATE_HEADER}\n{ok}\n{ok}\n")), 3);
        let message = PingState::parse(path, "x").unwrap_err().to_string();
        assert!(message.starts_with("out/.feedpub-pinged:1:"), "{message}");
    }

    #[test]
    fn unreadable_or_corrupt_state_files_load_as_empty_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PingState::load(dir.path()), (PingState::default(), None));
        fs::write(dir.path().join(STATE_FILE), b"\xff\xfe").unwrap();
        let (state, warning) = PingState::load(dir.path());
        assert_eq!(state, PingState::default());
        assert!(matches!(warning, Some(StateError::Unreadable { .. })));
        fs::write(dir.path().join(STATE_FILE), "half a line").unwrap();
        let (state, warning) = PingState::load(dir.path());
        assert_eq!(state, PingState::default());
        assert!(warning.unwrap().to_string().contains(STATE_FILE));
        fs::remove_file(dir.path().join(STATE_FILE)).unwrap();
        fs::create_dir(dir.path().join(STATE_FILE)).unwrap();
        assert!(matches!(
            PingState::load(dir.path()).1,
            Some(StateError::Unreadable { .. })
        ));
    }

    #[test]
    fn accepted_topics_take_the_new_digest_others_keep_theirs_and_gone_feeds_are_dropped() {
        let path = Path::new("state");
        let last = PingState::parse(
            path,
            &format!(
                "{STATE_HEADER}\n{} http://a.test/accepted\n{} http://a.test/failed\n{} http://a.test/gone\n",
                digest(1),
                digest(1),
                digest(1)
            ),
        )
        .unwrap();
        let feeds = [
            feed("http://a.test/accepted", 2),
            feed("http://a.test/failed", 2),
            feed("http://a.test/new-failed", 2),
            feed("http://a.test/new-accepted", 2),
        ];
        let accepted = BTreeSet::from(["http://a.test/accepted", "http://a.test/new-accepted"]);
        let next = last.after(&feeds, &accepted);
        assert_eq!(
            next.topics().collect::<Vec<_>>(),
            [
                "http://a.test/accepted",
                "http://a.test/failed",
                "http://a.test/new-accepted"
            ]
        );
        assert_eq!(next.get("http://a.test/accepted"), Some(digest(2)));
        assert_eq!(next.get("http://a.test/failed"), Some(digest(1)));
        assert_eq!(next.get("http://a.test/new-accepted"), Some(digest(2)));
    }

    #[test]
    fn a_topic_is_accepted_only_when_every_hub_accepted_it() {
        let plan = Plan {
            output: PathBuf::from("out"),
            feeds: vec![feed("http://a.test/one", 1), feed("http://a.test/two", 1)],
            last: PingState::default(),
            warning: None,
        };
        assert_eq!(plan.topics(), ["http://a.test/one", "http://a.test/two"]);
        let outcome = |hub: &str, topic: &str, ok: bool| Outcome {
            hub: hub.into(),
            topic: topic.into(),
            result: if ok {
                Ok(202)
            } else {
                Err(NotifyError::Failed {
                    status: 500,
                    attempts: 4,
                })
            },
        };
        let hubs = ["http://h1".to_string(), "http://h2".to_string()];
        let outcomes = [
            outcome("http://h1", "http://a.test/one", true),
            outcome("http://h2", "http://a.test/one", true),
            outcome("http://h1", "http://a.test/two", true),
            outcome("http://h2", "http://a.test/two", false),
        ];
        let state = plan.state_after(&hubs, &outcomes);
        assert_eq!(state.topics().collect::<Vec<_>>(), ["http://a.test/one"]);
        // A hub with no outcome at all has not accepted anything.
        let state = plan.state_after(&hubs, &outcomes[..1]);
        assert_eq!(state.topics().count(), 0);
        assert_eq!(plan.state_after(&[], &[]).topics().count(), 0);
    }

    #[test]
    fn tag_folders_map_back_to_their_slugs() {
        assert_eq!(tag_slug_of_folder("traffic"), Some("traffic".into()));
        assert_eq!(tag_slug_of_folder("city-hall"), Some("city-hall".into()));
        assert_eq!(tag_slug_of_folder(PERSIAN), Some(PERSIAN.into()));
        for name in [
            "",
            ".tmp",
            ".traffic.x",
            "City Hall",
            "Traffic",
            "a/b",
            "-a",
        ] {
            assert_eq!(tag_slug_of_folder(name), None, "{name:?}");
        }
    }

    #[test]
    fn the_feeds_of_a_folder_are_the_subscription_and_tag_feeds_only() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let write = |name: &str| {
            let path = out.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, name).unwrap();
        };
        for name in [
            "rss.xml",
            "rss.xml.gz",
            "rss.xml.br",
            "atom.xml",
            ".atom.xml.abc123.tmp",
            "index.html",
            STATE_FILE,
            "archive/rss/1.xml",
            "articles/1.html",
            "tags/traffic/rss.xml",
            "tags/traffic/atom.xml",
            "tags/traffic/feed.json",
            "tags/traffic/feed.json.gz",
            "tags/traffic/.rss.xml.x.tmp",
            &format!("tags/{PERSIAN}/atom.xml"),
            &format!("tags/{PERSIAN}/atom.xml.br"),
            "tags/.partial/rss.xml",
            "tags/Not A Slug/rss.xml",
            "tags/empty/other.txt",
            "tags/stray.xml",
        ] {
            write(name);
        }
        fs::create_dir_all(out.join("tags/folder/rss.xml")).unwrap();
        assert_eq!(
            feed_routes(out).unwrap(),
            [
                Route::Feed(Format::Rss),
                Route::Feed(Format::Atom),
                Route::Tag("traffic".into(), Format::Rss),
                Route::Tag("traffic".into(), Format::Atom),
                Route::Tag("traffic".into(), Format::Json),
                Route::Tag(PERSIAN.into(), Format::Atom),
            ]
        );
    }

    #[test]
    fn topics_are_the_urls_serve_announces_and_digests_are_of_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir_all(out.join(format!("tags/{PERSIAN}"))).unwrap();
        fs::write(out.join("feed.json"), "{}").unwrap();
        fs::write(out.join(format!("tags/{PERSIAN}/rss.xml")), "<rss/>").unwrap();
        let feeds = read_feeds(&config(&out)).unwrap();
        let topics: Vec<&str> = feeds.iter().map(|f| f.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "http://feeds.test/feed.json",
                "http://feeds.test/tags/%D8%AA%D8%B1%D8%A7%D9%81%DB%8C%DA%A9/rss.xml"
            ]
        );
        assert_eq!(feeds[1].digest, FeedDigest::of(b"<rss/>"));
    }

    #[test]
    fn a_missing_or_empty_output_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_feeds(&config(&dir.path().join("missing"))).unwrap_err();
        assert!(matches!(e, PingError::ReadFolder { .. }), "{e}");
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(matches!(
            read_feeds(&config(dir.path())),
            Err(PingError::NoFeeds { .. })
        ));
    }
}
