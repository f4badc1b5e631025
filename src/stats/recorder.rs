//! The hand-off from the accept loop to the database. [`Recorder::observe`] runs on the
//! request path: it decides whether the exchange was a poll and, if so, puts a small record
//! into a bounded queue without waiting (a full queue drops the poll and counts it). The
//! [`Writer`] is a thread of its own: it aggregates what arrives and writes it once a
//! second in one transaction, so no disk write ever holds up a response.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode, Uri};
use ipnet::IpNet;

use super::store::{Batch, Store};
use super::{client_address, clip_agent, feed_path, is_poll, Poll};
use crate::urls::Route;

/// The polls the queue holds at most between the accept loop and the writer: what arrives
/// within one [`DRAIN_INTERVAL`] (over 300,000 polls a second).
pub const QUEUE: usize = 16_384;

/// How often the writer takes what the queue holds.
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(50);

/// How often the writer writes.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How often old rows are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

enum Message {
    Poll(Poll),
    Stop,
}

/// The request side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct Recorder {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    trusted: Arc<[IpNet]>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Records the exchange when it was a poll: `status` is the response's. Allocates only
    /// for a poll (the User-Agent, and the path of a tag feed).
    pub fn observe(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        status: StatusCode,
        peer: SocketAddr,
        now: SystemTime,
    ) {
        let status = status.as_u16();
        if status != 200 && status != 304 {
            return;
        }
        let route = Route::parse(uri.path());
        if !is_poll(method.as_str(), &route, status) {
            return;
        }
        // One pass over the few headers instead of four hashed lookups (callgrind: 236 of a
        // 304's instructions).
        let (mut agent, mut forwarded, mut conditional) = (None, None, false);
        for (name, value) in headers {
            if *name == header::USER_AGENT {
                agent = agent.or(Some(value));
            } else if *name == header::IF_NONE_MATCH || *name == header::IF_MODIFIED_SINCE {
                conditional = true;
            } else if !self.trusted.is_empty() && name.as_str() == "x-forwarded-for" {
                forwarded = forwarded.or(Some(value));
            }
        }
        let client = client_address(
            peer.ip(),
            forwarded.and_then(|v: &HeaderValue| v.to_str().ok()),
            &self.trusted,
        );
        let poll = Poll {
            feed: feed_path(&route),
            conditional,
            agent: clip_agent(agent.and_then(|v| v.to_str().ok()).unwrap_or("")).to_string(),
            client,
            time: now,
        };
        self.send(poll);
    }

    /// Queues `poll`, or counts it as dropped when the queue is full.
    pub fn send(&self, poll: Poll) {
        match self.queue.try_send(Message::Poll(poll)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The background writer.
pub struct Writer {
    queue: SyncSender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer on `store`; returns it and the recorder that feeds it. Addresses of
    /// `X-Forwarded-For` are taken only from peers in `trusted`.
    pub fn start(store: Store, trusted: Vec<IpNet>) -> std::io::Result<(Writer, Recorder)> {
        let (queue, polls) = mpsc::sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        let thread = std::thread::Builder::new()
            .name("stats-writer".into())
            .spawn(move || write_loop(store, polls, counter))?;
        let recorder = Recorder {
            queue: queue.clone(),
            dropped,
            trusted: trusted.into(),
        };
        Ok((
            Writer {
                queue,
                thread: Some(thread),
            },
            recorder,
        ))
    }

    /// Writes what is pending and stops. Blocks until the last write is done.
    pub fn stop(mut self) {
        let _ = self.queue.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether a write failed for lack of space.
fn is_disk_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}

/// Gathers polls into a batch and writes it every [`FLUSH_INTERVAL`]. The queue is drained
/// every [`DRAIN_INTERVAL`] rather than waited on, so that a poll never wakes this thread:
/// under load, a wake-up per poll cost more than the rest of recording together. A failed
/// write drops that batch with one warning (then nothing more until a write succeeds
/// again): serving feeds matters more than counting them. A database removed while
/// serving is made again at its path before the next write (with one warning).
fn write_loop(mut store: Store, polls: Receiver<Message>, dropped: Arc<AtomicU64>) {
    let mut batch = Batch::default();
    let mut next_flush = Instant::now() + FLUSH_INTERVAL;
    let mut next_prune = Instant::now() + PRUNE_INTERVAL;
    let mut failing = false;
    let mut flush = |batch: &mut Batch, store: &mut Store| {
        batch.add_dropped(SystemTime::now(), dropped.swap(0, Ordering::Relaxed));
        if batch.is_empty() {
            return;
        }
        match store.reopen_if_removed() {
            Ok(false) => {}
            Ok(true) => {
                tracing::warn!(path = %store.path().display(), "the statistics database was removed or replaced while serving; recording into a new one at its path");
            }
            Err(e) => {
                if !failing {
                    failing = true;
                    tracing::warn!(error = %e, "statistics dropped: the database was removed and cannot be made again; feeds are still served");
                }
                *batch = Batch::default();
                return;
            }
        }
        match store.write(batch) {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(path = %store.path().display(), "statistics are written again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                let why = if is_disk_full(&e) {
                    "the disk is full"
                } else {
                    "the write failed"
                };
                tracing::warn!(path = %store.path().display(), error = %e, "statistics dropped: {why}; feeds are still served");
            }
            Err(_) => {}
        }
        *batch = Batch::default();
    };
    loop {
        std::thread::sleep(DRAIN_INTERVAL);
        loop {
            match polls.try_recv() {
                Ok(Message::Poll(poll)) => batch.add(poll),
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => {
                    flush(&mut batch, &mut store);
                    return;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        let now = Instant::now();
        if now >= next_flush {
            flush(&mut batch, &mut store);
            next_flush = now + FLUSH_INTERVAL;
            if now >= next_prune {
                if let Err(e) = store.prune(SystemTime::now()) {
                    tracing::debug!(error = %e, "pruning old statistics failed");
                }
                next_prune = now + PRUNE_INTERVAL;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, agent: &str) -> (Method, Uri, HeaderMap) {
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, agent.parse().unwrap());
        (Method::GET, path.parse().unwrap(), headers)
    }

    /// A recorder whose queue nobody reads: what a writer that cannot keep up looks like.
    fn stalled() -> (Recorder, Receiver<Message>) {
        let (queue, polls) = mpsc::sync_channel(QUEUE);
        let recorder = Recorder {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
            trusted: Vec::new().into(),
        };
        (recorder, polls)
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (recorder, polls) = stalled();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let started = Instant::now();
        for i in 0..QUEUE + 25 {
            let (m, u, h) = request("/rss.xml", &format!("agent-{i}"));
            recorder.observe(&m, &u, &h, StatusCode::OK, peer, SystemTime::now());
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never waits");
        assert_eq!(recorder.dropped.load(Ordering::Relaxed), 25);
        assert_eq!(polls.try_iter().count(), QUEUE);
    }

    #[test]
    fn only_polls_are_queued() {
        let (recorder, polls) = stalled();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let now = SystemTime::now();
        for (path, status) in [
            ("/rss.xml", StatusCode::NOT_MODIFIED),
            ("/tags/roads/atom.xml", StatusCode::OK),
            ("/feed", StatusCode::MOVED_PERMANENTLY),
            ("/rss.xml", StatusCode::NOT_ACCEPTABLE),
            ("/", StatusCode::OK),
            ("/stats.json", StatusCode::OK),
        ] {
            let (m, u, h) = request(path, "newsboat/2.30");
            recorder.observe(&m, &u, &h, status, peer, now);
        }
        let queued: Vec<String> = polls
            .try_iter()
            .filter_map(|m| match m {
                Message::Poll(p) => Some(p.feed.into_owned()),
                Message::Stop => None,
            })
            .collect();
        assert_eq!(queued, ["/rss.xml", "/tags/roads/atom.xml"]);
    }
}
