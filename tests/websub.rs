//! WebSub: a loopback HTTP listener plays the hub; feedpub must notify it once per changed
//! feed, never when nothing changed, and a dead hub must not delay the feeds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use feedpub::{Overrides, ServeOptions, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ARTICLE: &str = "Print  Send to Friend\n\n3 May 2021\n\nHub test story\n\nFirst body.\n\n10:00 - 2021/05/03 / number : 501 / Show Count : 1\n";

/// A hub that records the bodies of the requests it gets and answers 202.
async fn recording_hub() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            let head = &text[..end];
                            assert!(head.starts_with("POST /hub "), "{head}");
                            assert!(head
                                .to_ascii_lowercase()
                                .contains("content-type: application/x-www-form-urlencoded"));
                            record
                                .lock()
                                .unwrap()
                                .push(text[end + 4..end + 4 + length].to_string());
                            let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, seen)
}

/// A hub that accepts connections and never answers.
async fn silent_hub() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}

fn get(addr: std::net::SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&raw[..end]).to_string(),
        raw[end + 4..].to_vec(),
    )
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn decode(form: &str) -> Vec<(String, String)> {
    form.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let d = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .unwrap()
                    .to_string()
            };
            (d(k), d(v))
        })
        .collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn write_config(dir: &Path, hubs: &[String]) -> std::path::PathBuf {
    let hubs: Vec<String> = hubs.iter().map(|h| format!("\"{h}\"")).collect();
    let config = format!(
        "addr = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test\"\narticles = \"{}\"\noutput = \"{}\"\ntimezone = \"Asia/Tehran\"\ndebounce_ms = 50\nwebsub_timeout_secs = 1\nhubs = [{}]\n",
        dir.join("articles").display(),
        dir.join("out").display(),
        hubs.join(", ")
    );
    let path = dir.join("feedpub.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_changed_feed_is_announced_once_and_a_dead_hub_does_not_delay_the_feeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("articles")).unwrap();
    std::fs::write(dir.path().join("articles/a.txt"), ARTICLE).unwrap();
    let (hub, seen) = recording_hub().await;
    let silent = silent_hub().await;
    let config = write_config(dir.path(), &[silent.clone(), hub.clone()]);
    let server = Server::start(ServeOptions {
        config_path: Some(config),
        overrides: Overrides::default(),
    })
    .await
    .unwrap();
    let addr = server.addr();

    // Feeds advertise the hubs, in the documents and in Link headers.
    let (head, body) = tokio::task::spawn_blocking(move || get(addr, "/rss.xml"))
        .await
        .unwrap();
    let link = header(&head, "link").expect("Link header");
    assert!(link.contains(&format!("<{hub}>; rel=\"hub\"")), "{link}");
    assert!(
        link.contains("<http://feeds.test/rss.xml>; rel=\"self\""),
        "{link}"
    );
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains(&format!("href=\"{hub}\" rel=\"hub\"")),
        "{body}"
    );
    assert_eq!(body.matches("rel=\"self\"").count(), 1);
    let (_, json) = tokio::task::spawn_blocking(move || get(addr, "/feed.json"))
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["hubs"][1]["url"], hub.as_str());
    let etag_before = header(&head, "etag").unwrap().to_string();

    // Nothing has changed yet: no notification.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.lock().unwrap().is_empty());

    // Edit the article: the feed changes promptly despite the silent hub...
    let edited = Instant::now();
    std::fs::write(
        dir.path().join("articles/a.txt"),
        ARTICLE.replace("First body.", "Edited body."),
    )
    .unwrap();
    wait_until("the new feed", || {
        let (head, _) = get(addr, "/rss.xml");
        header(&head, "etag").unwrap() != etag_before
    })
    .await;
    assert!(
        edited.elapsed() < Duration::from_secs(3),
        "a dead hub delayed the feed: {:?}",
        edited.elapsed()
    );

    // ...and the live hub hears of each of the three feeds exactly once.
    wait_until("three notifications", || seen.lock().unwrap().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut topics: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|form| {
            let fields = decode(form);
            assert!(
                fields.contains(&("hub.mode".into(), "publish".into())),
                "{form}"
            );
            fields.into_iter().find(|(k, _)| k == "hub.url").unwrap().1
        })
        .collect();
    topics.sort();
    assert_eq!(
        topics,
        vec![
            "http://feeds.test/atom.xml",
            "http://feeds.test/feed.json",
            "http://feeds.test/rss.xml"
        ]
    );

    // Touching the file without changing it changes no feed: no further notification.
    filetime::set_file_mtime(dir.path().join("articles/a.txt"), filetime::FileTime::now()).unwrap();
    server.regenerate();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(seen.lock().unwrap().len(), 3);
    server.shutdown().await;
}
