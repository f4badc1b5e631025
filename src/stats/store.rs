//! The statistics database: one SQLite file in WAL mode, its schema versioned with
//! `PRAGMA user_version` from the first release, the batches the writer adds, the rows the
//! report is made of, and the secret that keys the client hashes.
//!
//! No client address is stored: a client is the first 16 bytes of HMAC-SHA256 of its
//! address under a secret made at first start and kept beside the database
//! (`{database}.key`, mode 0600). The hash tells clients apart within one database, and
//! cannot be turned back into an address without the key.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rusqlite::{params, Connection, OpenFlags, Transaction, TransactionBehavior};
use sha2::Sha256;

use super::{agents, is_poll, logline, Poll, StatsError, WINDOW_HOURS};
use crate::urls::Route;

/// The schema version this build writes. Version 0 is an empty file.
pub const SCHEMA_VERSION: i64 = 1;

/// Days of detailed rows (and of history) kept; older rows are removed.
pub const RETENTION_DAYS: i64 = 410;

/// The most distinct (day, feed, client, User-Agent) keys one batch holds; polls beyond
/// it are counted as dropped. With [`super::recorder::QUEUE`] this bounds the memory the
/// statistics take whatever the traffic.
pub const MAX_BATCH_KEYS: usize = 20_000;

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE direct (
    day TEXT NOT NULL,
    feed TEXT NOT NULL,
    client BLOB NOT NULL,
    agent TEXT NOT NULL,
    polls INTEGER NOT NULL,
    conditional INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (day, feed, client, agent)
) WITHOUT ROWID;
CREATE INDEX direct_last_seen ON direct (last_seen);
CREATE TABLE aggregator (
    day TEXT NOT NULL,
    feed TEXT NOT NULL,
    name TEXT NOT NULL,
    feed_id TEXT NOT NULL,
    subscribers INTEGER NOT NULL,
    polls INTEGER NOT NULL,
    conditional INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (day, feed, name, feed_id)
) WITHOUT ROWID;
CREATE INDEX aggregator_last_seen ON aggregator (last_seen);
CREATE TABLE dropped (day TEXT PRIMARY KEY, polls INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE imported (line BLOB PRIMARY KEY, day TEXT NOT NULL) WITHOUT ROWID;
"#];

/// The secret that keys the client hashes.
#[derive(Clone)]
pub struct ClientKey([u8; 32]);

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKey(..)")
    }
}

impl ClientKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ClientKey {
        ClientKey(bytes)
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 16] {
        // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return [0; 16];
        };
        for part in parts {
            mac.update(part);
        }
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// The stored form of a client address.
    pub fn client(&self, ip: IpAddr) -> [u8; 16] {
        let bytes = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        self.mac(&[b"client\0", &bytes])
    }

    /// The stored form of an imported log line, to import it only once.
    fn line(&self, line: &str) -> [u8; 16] {
        self.mac(&[b"line\0", line.as_bytes()])
    }

    /// Reads the key file beside `db`, or makes one (32 random bytes, mode 0600).
    pub fn load_or_create(db: &Path) -> Result<ClientKey, StatsError> {
        let path = key_path(db);
        let error = |source| StatsError::Key {
            path: path.clone(),
            source,
        };
        match File::open(&path) {
            Ok(mut file) => {
                let mut bytes = [0u8; 32];
                file.read_exact(&mut bytes).map_err(error)?;
                Ok(ClientKey(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::getrandom(&mut bytes)
                    .map_err(|e| error(std::io::Error::other(e.to_string())))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(error)?;
                file.write_all(&bytes).map_err(error)?;
                file.sync_all().map_err(error)?;
                Ok(ClientKey(bytes))
            }
            Err(e) => Err(error(e)),
        }
    }
}

/// The key file of the database `db`: `{db}.key`.
pub fn key_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".key");
    PathBuf::from(name)
}

/// The UTC day of `time`, as `YYYY-MM-DD`.
pub fn day_of(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time)
        .format("%Y-%m-%d")
        .to_string()
}

fn unix(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// How often and how politely one key polled within a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    polls: u64,
    conditional: u64,
    first: i64,
    last: i64,
    /// The arrival number of the last poll within its batch: of two reports in one second,
    /// the later one counts.
    seq: u64,
}

impl Tally {
    fn new(poll: &Poll) -> Tally {
        let t = unix(poll.time);
        Tally {
            polls: 1,
            conditional: u64::from(poll.conditional),
            first: t,
            last: t,
            seq: 0,
        }
    }

    /// Whether `other`'s last poll came after this one's.
    fn is_before(&self, other: &Tally) -> bool {
        (self.last, self.seq) <= (other.last, other.seq)
    }

    fn merge(&mut self, other: &Tally) {
        if self.is_before(other) {
            self.seq = other.seq;
        }
        self.polls += other.polls;
        self.conditional += other.conditional;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

/// The day number (days since 1970, UTC) of a Unix time.
fn day_number(secs: i64) -> i64 {
    secs.div_euclid(86_400)
}

/// `YYYY-MM-DD` of a day number.
fn day_text(day: i64) -> String {
    day_of(UNIX_EPOCH + Duration::from_secs(day.max(0) as u64 * 86_400))
}

/// A batch's key: the day, the feed, the client and its User-Agent, as they arrived.
type RawKey = (i64, Cow<'static, str>, IpAddr, String);

/// The polls gathered between two writes. Adding a poll is one hash-map update; what costs
/// more (the User-Agent table, the keyed hash of the address, the day's name) is done once
/// per distinct key when the batch is written, off the request path and off the hot loop.
#[derive(Debug, Default)]
pub struct Batch {
    /// Hashed with foldhash (randomly seeded, so a client cannot choose colliding
    /// User-Agents): SipHash of the key was half of the writer's 800 instructions per poll.
    raw: HashMap<RawKey, Tally, foldhash::fast::RandomState>,
    dropped: HashMap<i64, u64>,
    arrived: u64,
}

impl Batch {
    /// Adds one poll; when the batch holds [`MAX_BATCH_KEYS`] keys already, counts it as
    /// dropped instead.
    pub fn add(&mut self, poll: Poll) {
        let day = day_number(unix(poll.time));
        self.arrived += 1;
        let tally = Tally {
            seq: self.arrived,
            ..Tally::new(&poll)
        };
        let key = (day, poll.feed, poll.client, poll.agent);
        if let Some(t) = self.raw.get_mut(&key) {
            t.merge(&tally);
        } else if self.raw.len() >= MAX_BATCH_KEYS {
            *self.dropped.entry(day).or_default() += 1;
        } else {
            self.raw.insert(key, tally);
        }
    }

    /// Counts `count` polls at `time` that were dropped before they reached the batch.
    pub fn add_dropped(&mut self, time: SystemTime, count: u64) {
        if count > 0 {
            *self.dropped.entry(day_number(unix(time))).or_default() += count;
        }
    }

    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.dropped.is_empty()
    }

    /// Distinct keys held.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Polls counted as dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped.values().sum()
    }

    fn write(&self, tx: &Transaction, key: &ClientKey) -> rusqlite::Result<()> {
        let mut days: HashMap<i64, String> = HashMap::new();
        let mut reports: HashMap<&str, Option<agents::Reported>> = HashMap::new();
        let mut clients: HashMap<IpAddr, [u8; 16]> = HashMap::new();
        let mut direct: HashMap<(&str, &str, [u8; 16], &str), Tally> = HashMap::new();
        let mut aggregated: HashMap<(&str, &str, String, String), (Tally, u64)> = HashMap::new();
        for day in self
            .raw
            .keys()
            .map(|k| k.0)
            .chain(self.dropped.keys().copied())
        {
            days.entry(day).or_insert_with(|| day_text(day));
        }
        for ((day, feed, ip, agent), tally) in &self.raw {
            let day = days.get(day).map_or("", String::as_str);
            let report = reports
                .entry(agent.as_str())
                .or_insert_with(|| agents::reported(agent));
            match report {
                Some(r) => {
                    let k = (day, feed.as_ref(), r.name.clone(), r.feed_id.clone());
                    match aggregated.get_mut(&k) {
                        Some((t, subscribers)) => {
                            if t.is_before(tally) {
                                *subscribers = r.subscribers;
                            }
                            t.merge(tally);
                        }
                        None => {
                            aggregated.insert(k, (*tally, r.subscribers));
                        }
                    }
                }
                None => {
                    let client = *clients.entry(*ip).or_insert_with(|| key.client(*ip));
                    direct
                        .entry((day, feed.as_ref(), client, agent.as_str()))
                        .and_modify(|t| t.merge(tally))
                        .or_insert(*tally);
                }
            }
        }
        let mut statement = tx.prepare_cached(
            "INSERT INTO direct VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT DO UPDATE SET polls = polls + excluded.polls,
               conditional = conditional + excluded.conditional,
               first_seen = min(first_seen, excluded.first_seen),
               last_seen = max(last_seen, excluded.last_seen)",
        )?;
        for ((day, feed, client, agent), t) in &direct {
            statement.execute(params![
                day,
                feed,
                &client[..],
                agent,
                t.polls as i64,
                t.conditional as i64,
                t.first,
                t.last
            ])?;
        }
        let mut statement = tx.prepare_cached(
            "INSERT INTO aggregator VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT DO UPDATE SET
               subscribers = CASE WHEN excluded.last_seen >= last_seen
                                  THEN excluded.subscribers ELSE subscribers END,
               polls = polls + excluded.polls,
               conditional = conditional + excluded.conditional,
               first_seen = min(first_seen, excluded.first_seen),
               last_seen = max(last_seen, excluded.last_seen)",
        )?;
        for ((day, feed, name, feed_id), (t, subscribers)) in &aggregated {
            statement.execute(params![
                day,
                feed,
                name,
                feed_id,
                *subscribers as i64,
                t.polls as i64,
                t.conditional as i64,
                t.first,
                t.last
            ])?;
        }
        let mut statement = tx.prepare_cached(
            "INSERT INTO dropped VALUES (?1, ?2)
             ON CONFLICT DO UPDATE SET polls = polls + excluded.polls",
        )?;
        for (day, count) in &self.dropped {
            let day = days.get(day).map_or("", String::as_str);
            statement.execute(params![day, *count as i64])?;
        }
        Ok(())
    }
}

/// What `feedpub stats import` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines read.
    pub lines: u64,
    /// Feed polls added.
    pub polls: u64,
    /// Feed polls already imported before (not counted again).
    pub duplicates: u64,
    /// Lines not in the combined format.
    pub skipped: u64,
    /// The first skipped line: file and line number.
    pub first_skipped: Option<(PathBuf, u64)>,
    /// Polls older than the retention, left out.
    pub too_old: u64,
}

/// The rows the report is made of (see [`super::report::figures`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rows {
    /// The newest count per (feed, aggregator, subscription id) within the window:
    /// feed, aggregator, subscribers.
    pub aggregators: Vec<(String, String, u64)>,
    /// Distinct direct (client, User-Agent) pairs per feed within the window.
    pub direct: Vec<(String, u64)>,
    /// Subscribers per day, oldest first.
    pub history: Vec<(String, u64)>,
    /// Per client (or subscription) within the window: reader name, polls, conditional
    /// polls, first and last poll of its day.
    pub behaviour: Vec<(String, u64, u64, i64, i64)>,
    /// Polls not counted within the window because the memory cap was reached.
    pub dropped: u64,
}

/// An open statistics database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    key: ClientKey,
    /// The file `conn` writes (device and inode), to notice when the path names another
    /// file or none; `None` while no database is open there.
    file: Option<FileId>,
    /// Held for as long as a server records into the database.
    _lock: Option<File>,
}

/// The device and inode of a file.
type FileId = (u64, u64);

/// The device and inode of the file at `path`, if there is one.
#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether there is a file at `path` (no inode numbers to compare on this system).
#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    path.exists().then_some((0, 0))
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn database_error(path: &Path) -> impl Fn(rusqlite::Error) -> StatsError + '_ {
    move |source| StatsError::Database {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens `path` for writing and migrates it; proves it writable (one write now), so that a
/// read-only, corrupt or locked file is an error at start, not later.
fn open_connection(path: &Path) -> Result<Connection, StatsError> {
    let error = database_error(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&error)?;
    conn.busy_timeout(Duration::from_secs(2)).map_err(&error)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(&error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(error(rusqlite::Error::InvalidQuery));
    }
    // WAL with synchronous = NORMAL: a crash of the process loses nothing committed; a
    // power cut may lose the last transactions, never the file.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(&error)?;
    migrate(&conn, path)?;
    Ok(conn)
}

/// Brings the schema to [`SCHEMA_VERSION`], one transaction per step.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StatsError> {
    let error = database_error(path);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(&error)?;
    if version > SCHEMA_VERSION {
        return Err(StatsError::Newer {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
            from + 1
        ))
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            error(e)
        })?;
    }
    // A write, even when there was nothing to migrate: a read-only or locked database
    // fails here.
    conn.execute_batch("BEGIN IMMEDIATE; DELETE FROM dropped WHERE 0; COMMIT;")
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            error(e)
        })?;
    Ok(())
}

impl Store {
    /// Opens (or makes) the database and its key, for `feedpub stats import`.
    pub fn open(path: &Path) -> Result<Store, StatsError> {
        let key = ClientKey::load_or_create(path)?;
        let conn = open_connection(path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            key,
            file: file_id(path),
            _lock: None,
        })
    }

    /// Opens (or makes) the database for a server that records into it: also takes an
    /// exclusive lock on the key file, so that a second server on the same database fails
    /// at start.
    pub fn open_for_recording(path: &Path) -> Result<Store, StatsError> {
        let key = ClientKey::load_or_create(path)?;
        let lock = File::open(key_path(path)).map_err(|source| StatsError::Key {
            path: key_path(path),
            source,
        })?;
        if lock.try_lock().is_err() {
            return Err(StatsError::Locked {
                path: path.to_path_buf(),
            });
        }
        let conn = open_connection(path)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            key,
            file: file_id(path),
            _lock: Some(lock),
        };
        store
            .prune(SystemTime::now())
            .map_err(database_error(path))?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key of the client hashes.
    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    /// When the database file was removed (or another file put at its path) while open,
    /// closes it and opens (or makes) the one at the path now: without this, every later
    /// write would go into a removed file, and be lost at the next start without a word.
    /// `Ok(true)` when a new database was opened; on an error no database is open, and the
    /// next call tries again.
    pub fn reopen_if_removed(&mut self) -> Result<bool, StatsError> {
        if self.file.is_some() && file_id(&self.path) == self.file {
            return Ok(false);
        }
        if self.file.take().is_some() {
            // Closed first: its last checkpoint goes into the removed file, and its WAL
            // file, if still there, is not taken for the new database's.
            let placeholder = Connection::open_in_memory().map_err(database_error(&self.path))?;
            let _ = std::mem::replace(&mut self.conn, placeholder).close();
        }
        self.key = ClientKey::load_or_create(&self.path)?;
        self.conn = open_connection(&self.path)?;
        self.file = file_id(&self.path);
        Ok(true)
    }

    /// Writes `batch` in one transaction.
    pub fn write(&mut self, batch: &Batch) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        batch.write(&tx, &self.key)?;
        tx.commit()
    }

    /// Removes the rows older than [`RETENTION_DAYS`].
    pub fn prune(&mut self, now: SystemTime) -> rusqlite::Result<()> {
        let cutoff = day_of(now - Duration::from_secs(RETENTION_DAYS as u64 * 86_400));
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            for table in ["direct", "aggregator", "dropped", "imported"] {
                self.conn
                    .execute(&format!("DELETE FROM {table} WHERE day < ?1"), [&cutoff])?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.conn.execute_batch("COMMIT"),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Adds the feed polls of combined-format access logs; lines already imported are not
    /// counted again. `now` bounds the retention.
    pub fn import(
        &mut self,
        logs: &[PathBuf],
        now: SystemTime,
    ) -> Result<ImportReport, StatsError> {
        let mut report = ImportReport::default();
        let oldest = day_of(now - Duration::from_secs(RETENTION_DAYS as u64 * 86_400));
        for log in logs {
            let read_error = |source| StatsError::Read {
                path: log.clone(),
                source,
            };
            let file = File::open(log).map_err(read_error)?;
            let mut reader = BufReader::new(file);
            let mut pending: Vec<([u8; 16], Poll)> = Vec::new();
            let mut raw = Vec::new();
            let mut number = 0u64;
            loop {
                raw.clear();
                if reader.read_until(b'\n', &mut raw).map_err(read_error)? == 0 {
                    break;
                }
                number += 1;
                report.lines += 1;
                let parsed = std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|line| Some((line, logline::parse(line).ok()?)));
                let Some((line, entry)) = parsed else {
                    report.skipped += 1;
                    report.first_skipped.get_or_insert((log.clone(), number));
                    continue;
                };
                let route = Route::parse(&entry.path);
                if !is_poll(&entry.method, &route, entry.status) {
                    continue;
                }
                let poll = Poll {
                    feed: super::feed_path(&route),
                    conditional: entry.status == 304,
                    agent: super::clip_agent(&entry.agent).to_string(),
                    client: entry.client,
                    time: entry.time,
                };
                if day_of(poll.time) < oldest {
                    report.too_old += 1;
                    continue;
                }
                pending.push((self.key.line(line.trim_end_matches(['\r', '\n'])), poll));
                if pending.len() >= 5_000 {
                    self.import_chunk(&mut pending, &mut report)
                        .map_err(database_error(&self.path))?;
                }
            }
            self.import_chunk(&mut pending, &mut report)
                .map_err(database_error(&self.path))?;
        }
        Ok(report)
    }

    /// Writes the polls of `pending` not imported before, in one transaction.
    fn import_chunk(
        &mut self,
        pending: &mut Vec<([u8; 16], Poll)>,
        report: &mut ImportReport,
    ) -> rusqlite::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let key = self.key.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut batch = Batch::default();
        {
            let mut seen = tx.prepare_cached("INSERT OR IGNORE INTO imported VALUES (?1, ?2)")?;
            for (hash, poll) in pending.drain(..) {
                if seen.execute(params![&hash[..], day_of(poll.time)])? == 0 {
                    report.duplicates += 1;
                    continue;
                }
                report.polls += 1;
                // A chunk is far smaller than the batch cap: nothing is dropped here.
                batch.add(poll);
            }
        }
        batch.write(&tx, &key)?;
        tx.commit()
    }
}

/// A read-only view of the database, for the report.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Opens the database at `path` for reading; an error when there is none.
    pub fn open(path: &Path) -> Result<Reader, StatsError> {
        if !path.exists() {
            return Err(StatsError::Missing {
                path: path.to_path_buf(),
            });
        }
        let error = database_error(path);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(&error)?;
        conn.busy_timeout(Duration::from_secs(2)).map_err(&error)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&error)?;
        if version != SCHEMA_VERSION {
            return Err(StatsError::Newer {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        Ok(Reader { conn })
    }

    /// The rows of the report at time `now`, read in one transaction.
    pub fn rows(&mut self, now: SystemTime) -> rusqlite::Result<Rows> {
        let since = unix(now) - (WINDOW_HOURS * 3600) as i64;
        let first_day = day_of(now - Duration::from_secs(WINDOW_HOURS * 3600));
        let tx = self.conn.transaction()?;
        let rows = Reader::rows_in(&tx, since, &first_day)?;
        tx.finish()?;
        Ok(rows)
    }

    fn rows_in(tx: &Transaction, since: i64, first_day: &str) -> rusqlite::Result<Rows> {
        let mut rows = Rows::default();
        // SQLite takes the bare columns of a MAX() aggregate from the row of the maximum.
        let mut q = tx.prepare(
            "SELECT feed, name, subscribers, MAX(last_seen) FROM aggregator
             WHERE last_seen >= ?1 GROUP BY feed, name, feed_id",
        )?;
        rows.aggregators = q
            .query_map([since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut q = tx.prepare(
            "SELECT feed, COUNT(*) FROM (SELECT DISTINCT feed, client, agent FROM direct
             WHERE last_seen >= ?1) GROUP BY feed",
        )?;
        rows.direct = q
            .query_map([since], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut q = tx.prepare(
            "SELECT day, SUM(n) FROM (
               SELECT day, SUM(subscribers) AS n FROM (
                 SELECT day, subscribers, MAX(last_seen) FROM aggregator
                 GROUP BY day, feed, name, feed_id)
               GROUP BY day
               UNION ALL
               SELECT day, COUNT(*) AS n FROM direct GROUP BY day)
             GROUP BY day ORDER BY day",
        )?;
        rows.history = q
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut q = tx.prepare(
            "SELECT agent, 0, polls, conditional, first_seen, last_seen FROM direct
             WHERE last_seen >= ?1
             UNION ALL
             SELECT name, 1, polls, conditional, first_seen, last_seen FROM aggregator
             WHERE last_seen >= ?1",
        )?;
        rows.behaviour = q
            .query_map([since], |r| {
                let who: String = r.get(0)?;
                let aggregator: i64 = r.get(1)?;
                let name = if aggregator == 1 {
                    who
                } else {
                    agents::product(&who)
                };
                Ok((
                    name,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        rows.dropped = tx.query_row(
            "SELECT COALESCE(SUM(polls), 0) FROM dropped WHERE day >= ?1",
            [first_day],
            |r| r.get::<_, i64>(0),
        )? as u64;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(feed: &str, agent: &str, client: &str, secs: u64) -> Poll {
        Poll {
            feed: feed.to_string().into(),
            conditional: secs.is_multiple_of(2),
            agent: agent.into(),
            client: client.parse().unwrap(),
            time: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    const T0: u64 = 1_796_000_000; // 2026-11-30

    #[test]
    fn batches_count_distinct_direct_pairs_and_the_newest_aggregator_count() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite");
        let mut store = Store::open_for_recording(&db).unwrap();
        let mut batch = Batch::default();
        for p in [
            poll("/rss.xml", "newsboat/2.30", "127.0.0.1", T0),
            poll("/rss.xml", "newsboat/2.30", "127.0.0.1", T0 + 60),
            poll("/rss.xml", "newsboat/2.30", "127.0.0.2", T0 + 60),
            poll("/rss.xml", "curl/8", "127.0.0.2", T0 + 61),
            poll(
                "/rss.xml",
                "Feedbin feed-id:1 - 56 subscribers",
                "10.0.0.1",
                T0 + 10,
            ),
            poll(
                "/rss.xml",
                "Feedbin feed-id:1 - 50 subscribers",
                "10.0.0.1",
                T0 + 5,
            ),
            poll(
                "/rss.xml",
                "Feedbin feed-id:2 - 7 subscribers",
                "10.0.0.1",
                T0 + 5,
            ),
            poll(
                "/atom.xml",
                "Feedly/1.0 (x; 9 subscribers;)",
                "10.0.0.9",
                T0,
            ),
        ] {
            batch.add(p);
        }
        store.write(&batch).unwrap();
        // A later batch with an older report does not win.
        let mut later = Batch::default();
        later.add(poll(
            "/rss.xml",
            "Feedbin feed-id:1 - 1 subscribers",
            "10.0.0.1",
            T0 + 1,
        ));
        store.write(&later).unwrap();
        let mut reader = Reader::open(&db).unwrap();
        let mut rows = reader
            .rows(UNIX_EPOCH + Duration::from_secs(T0 + 3600))
            .unwrap();
        rows.aggregators.sort();
        rows.direct.sort();
        assert_eq!(
            rows.aggregators,
            vec![
                ("/atom.xml".into(), "Feedly".into(), 9),
                ("/rss.xml".into(), "Feedbin".into(), 7),
                ("/rss.xml".into(), "Feedbin".into(), 56),
            ]
        );
        assert_eq!(rows.direct, vec![("/rss.xml".into(), 3)]);
        assert_eq!(rows.history, vec![("2026-11-30".into(), 9 + 7 + 56 + 3)]);
        // A day later, the window is empty; the history stays.
        let rows = reader
            .rows(UNIX_EPOCH + Duration::from_secs(T0 + 2 * 86_400))
            .unwrap();
        assert!(rows.aggregators.is_empty() && rows.direct.is_empty());
        assert_eq!(rows.history.len(), 1);
    }

    #[test]
    fn of_two_reports_in_one_second_the_later_counts() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite");
        let mut store = Store::open(&db).unwrap();
        for first in [5, 500] {
            let mut batch = Batch::default();
            for n in [first, 123] {
                let agent = format!("Feedly/1.0 (x; {n} subscribers;)");
                batch.add(poll("/rss.xml", &agent, "10.0.0.1", T0 + 1));
            }
            store.write(&batch).unwrap();
            let rows = Reader::open(&db)
                .unwrap()
                .rows(UNIX_EPOCH + Duration::from_secs(T0 + 10))
                .unwrap();
            assert_eq!(
                rows.aggregators,
                vec![("/rss.xml".into(), "Feedly".into(), 123)]
            );
        }
    }

    #[test]
    fn a_second_server_on_the_same_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite");
        let _first = Store::open_for_recording(&db).unwrap();
        let second = Store::open_for_recording(&db).unwrap_err();
        assert!(matches!(second, StatsError::Locked { .. }), "{second}");
        assert!(second.to_string().contains("s.sqlite"));
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bad.sqlite");
        std::fs::write(
            &db,
            b"this is not a database, it is a text file of some length",
        )
        .unwrap();
        let e = Store::open_for_recording(&db).unwrap_err();
        assert!(matches!(e, StatsError::Database { .. }), "{e}");
        assert!(e.to_string().contains("bad.sqlite"), "{e}");
    }

    #[test]
    fn migrations_are_versioned_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite");
        drop(Store::open(&db).unwrap());
        let conn = Connection::open(&db).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        let e = Store::open(&db).unwrap_err();
        assert!(matches!(e, StatsError::Newer { found: 99, .. }), "{e}");
    }

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite");
        let a = ClientKey::load_or_create(&db).unwrap();
        let b = ClientKey::load_or_create(&db).unwrap();
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(a.client(ip), b.client(ip));
        assert_ne!(a.client(ip), a.client("127.0.0.3".parse().unwrap()));
        assert_ne!(a.client(ip), ClientKey::from_bytes([7; 32]).client(ip));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(&db))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_full_batch_counts_what_it_drops() {
        let mut batch = Batch::default();
        for i in 0..(MAX_BATCH_KEYS + 10) {
            batch.add(poll("/rss.xml", &format!("agent-{i}"), "127.0.0.1", T0));
        }
        // A key already held is still counted.
        batch.add(poll("/rss.xml", "agent-0", "127.0.0.1", T0 + 5));
        assert_eq!(batch.len(), MAX_BATCH_KEYS);
        assert_eq!(batch.dropped(), 10);
    }
}
