//! WebSub: a loopback HTTP listener plays the hub; feedpub must notify it once per changed
//! feed, never when nothing changed, and a dead hub must not delay the feeds.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
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

/// The configuration: the workspace's folders (output `out/`), `hubs`, and a 1 s timeout
/// for notifying them.
fn write_config(workspace: &Workspace, hubs: &[String]) {
    let hubs: Vec<String> = hubs.iter().map(|h| format!("\"{h}\"")).collect();
    workspace.write_config_text(&format!(
        "addr = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test\"\narticles = \"{}\"\noutput = \"{}\"\ntimezone = \"Asia/Tehran\"\ndebounce_ms = 50\nwebsub_timeout_secs = 1\nhubs = [{}]\n",
        workspace.articles.display(),
        workspace.path("out").display(),
        hubs.join(", ")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_changed_feed_is_announced_once_and_a_dead_hub_does_not_delay_the_feeds() {
    let workspace = Workspace::new();
    workspace.write_article("a.txt", ARTICLE);
    let (hub, seen) = recording_hub().await;
    let silent = silent_hub().await;
    write_config(&workspace, &[silent.clone(), hub.clone()]);
    let server = Server::start(ServeOptions {
        config_path: Some(workspace.config.clone()),
        overrides: Overrides::default(),
    })
    .await
    .unwrap();
    let addr = server.addr();

    // Feeds advertise the hubs, in the documents and in Link headers.
    let rss = blocking(move || get(addr, "/rss.xml", &[])).await;
    let link = rss.header("link").expect("Link header");
    assert!(link.contains(&format!("<{hub}>; rel=\"hub\"")), "{link}");
    assert!(
        link.contains("<http://feeds.test/rss.xml>; rel=\"self\""),
        "{link}"
    );
    let body = rss.utf8();
    assert!(
        body.contains(&format!("href=\"{hub}\" rel=\"hub\"")),
        "{body}"
    );
    assert_eq!(body.matches("rel=\"self\"").count(), 1);
    let json = blocking(move || get(addr, "/feed.json", &[])).await;
    let json: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(json["hubs"][1]["url"], hub.as_str());
    let etag_before = rss.etag();

    // Nothing has changed yet: no notification.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.lock().unwrap().is_empty());

    // Edit the article: the feed changes promptly despite the silent hub...
    let edited = Instant::now();
    workspace.write_article("a.txt", &ARTICLE.replace("First body.", "Edited body."));
    blocking(move || {
        wait_until(Duration::from_secs(10), "the new feed", || {
            get(addr, "/rss.xml", &[]).etag() != etag_before
        })
    })
    .await;
    assert!(
        edited.elapsed() < Duration::from_secs(3),
        "a dead hub delayed the feed: {:?}",
        edited.elapsed()
    );

    // ...and the live hub hears of each of the three feeds exactly once.
    let notified = Arc::clone(&seen);
    blocking(move || {
        wait_until(Duration::from_secs(10), "three notifications", || {
            notified.lock().unwrap().len() >= 3
        })
    })
    .await;
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
            "http://feeds.test/lang/en/atom.xml",
            "http://feeds.test/lang/en/feed.json",
            "http://feeds.test/lang/en/rss.xml",
            "http://feeds.test/rss.xml"
        ]
    );

    // Touching the file without changing it changes no feed: no further notification.
    filetime::set_file_mtime(workspace.article_path("a.txt"), filetime::FileTime::now()).unwrap();
    server.regenerate();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(seen.lock().unwrap().len(), 6);
    server.shutdown().await;
}
