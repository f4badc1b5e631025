//! Criterion benchmarks of feedpub's pipeline stages, one group per stage:
//!
//! - `parse`: `Article::parse` / `Article::from_bytes` on the seed article 000.
//! - `items`: `FeedItem::new` and selecting the newest 50 (`Ranking` then `items_of`) over 1k and 10k articles.
//! - `render`: `Feeds::render` (`max_items = 50`) over 1k and 10k articles, and the ~100 KB
//!   RSS case (its size is printed and used as the throughput).
//! - `resource`: `render::Resource::new` (SHA-256 + gzip -9 + brotli q9) on the ~100 KB RSS
//!   body, with the hash alone and the two compressors alone for comparison.
//! - `http`: `conditional::evaluate`, `conditional::choose_encoding`, and the whole
//!   `routes::respond` for /rss.xml (200 identity, 200 gzip, 304).
//!
//! Run with `cargo bench --bench pipeline` (a few minutes); filter with
//! `cargo bench --bench pipeline -- render`. Articles are the 21 files of `seeds/`, cloned
//! with distinct ids and dates, so their text is realistic.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use feedpub::corpus::Ranking;
use feedpub::http::conditional::{choose_encoding, evaluate};
use feedpub::http::routes::respond;
use feedpub::item::{items_of, FeedItem};
use feedpub::render::{Encoding, Policy, Resource};
use feedpub::{Article, Config, Feeds, Overrides, Snapshot};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Uri};

const SEED_000: &str = include_str!("../seeds/000_bb7615a41bd90a68.txt");

const CONFIG: &str = r#"title = "Police News (English)"
description = "English-language news of the police news site."
site_url = "https://police-news.example.org/en"
base_url = "https://feeds.example.org"
language = "en"
timezone = "Asia/Tehran"
author = { name = "Police News desk" }
id_prefix = "tag:police-news.example.org,2018:news:"
max_items = 50
summary_chars = 300
"#;

fn config(max_items: usize) -> Config {
    let text = CONFIG.replace("max_items = 50", &format!("max_items = {max_items}"));
    Config::parse(Path::new("bench.toml"), &text, &Overrides::default()).expect("bench config")
}

/// The seed articles, parsed once.
fn seeds() -> Vec<Article> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("seeds/ folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| Article::from_bytes(p, &std::fs::read(p).ok()?).ok())
        .map(|parsed| parsed.article)
        .collect()
}

/// `n` articles: the seeds cloned round-robin with unique ids and dates spread over
/// 2010-2024 (a fixed pseudo-random walk, so every run benches the same input).
fn corpus(n: usize) -> Vec<Arc<Article>> {
    let seeds = seeds();
    assert!(!seeds.is_empty(), "no seed article could be parsed");
    let start = NaiveDate::from_ymd_opt(2010, 1, 1)
        .expect("valid date")
        .and_hms_opt(0, 0, 0)
        .expect("valid time");
    let span_minutes: u64 = 15 * 365 * 24 * 60;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let mut a = seeds[i % seeds.len()].clone();
            a.id = (100_000 + i).to_string();
            a.path = PathBuf::from(format!("bench/{i:06}.txt")).into();
            a.published = start + chrono::Duration::minutes(((state >> 33) % span_minutes) as i64);
            Arc::new(a)
        })
        .collect()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(*k, HeaderValue::from_str(v).expect("valid header value"));
    }
    map
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(SEED_000.len() as u64));
    let path = Path::new("seeds/000_bb7615a41bd90a68.txt");
    g.bench_function("Article::parse/seed000", |b| {
        b.iter(|| Article::parse(black_box(path), black_box(SEED_000)).expect("parses"))
    });
    g.bench_function("Article::from_bytes/seed000", |b| {
        b.iter(|| {
            Article::from_bytes(black_box(path), black_box(SEED_000.as_bytes())).expect("parses")
        })
    });
    g.finish();
}

fn bench_items(c: &mut Criterion) {
    let mut g = c.benchmark_group("items");
    let cfg = config(50);
    let one = corpus(1).remove(0);
    g.bench_function("FeedItem::new/seed000", |b| {
        b.iter(|| FeedItem::new(Arc::clone(black_box(&one)), &cfg))
    });
    for n in [1_000usize, 10_000] {
        let articles = corpus(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("select_items/50", n), &articles, |b, a| {
            b.iter(|| items_of(Ranking::new(black_box(a), cfg.timezone).newest(50), &cfg))
        });
    }
    g.finish();
}

fn bench_render(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    let cfg = config(50);
    for n in [1_000usize, 10_000] {
        let articles = corpus(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("Feeds::render/max50", n),
            &articles,
            |b, a| b.iter(|| Feeds::render(black_box(a), &cfg).expect("renders")),
        );
    }
    // The ~100 KB RSS case: 1k articles, as many items as make ~100 KB of RSS.
    let articles = corpus(1_000);
    let (max_items, size) = feed_100k(&articles);
    println!("render/Feeds::render/100KB: max_items = {max_items}, rss.xml = {size} bytes");
    let cfg = config(max_items);
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function(BenchmarkId::new("Feeds::render/100KB", size), |b| {
        b.iter(|| Feeds::render(black_box(&articles), &cfg).expect("renders"))
    });
    g.finish();
}

/// The smallest `max_items` whose RSS reaches 100 KB, and that size.
fn feed_100k(articles: &[Arc<Article>]) -> (usize, usize) {
    let mut max_items = 10;
    loop {
        let size = Feeds::render(articles, &config(max_items))
            .expect("renders")
            .rss
            .len();
        if size >= 100_000 || max_items >= articles.len() {
            return (max_items, size);
        }
        max_items += 1;
    }
}

fn rss_100k() -> Vec<u8> {
    let articles = corpus(1_000);
    let (max_items, _) = feed_100k(&articles);
    Feeds::render(&articles, &config(max_items))
        .expect("renders")
        .rss
}

fn bench_resource(c: &mut Criterion) {
    let body = rss_100k();
    let mut g = c.benchmark_group("resource");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(20);
    g.bench_function("Resource::new/compress", |b| {
        b.iter(|| {
            Resource::new(
                "application/rss+xml",
                black_box(body.clone()),
                UNIX_EPOCH,
                true,
                Policy::default(),
            )
        })
    });
    // An article page's size: small bodies take brotli's other hashers (see render.rs).
    let page = body[..5_000].to_vec();
    g.throughput(Throughput::Bytes(page.len() as u64));
    g.bench_function("Resource::new/page", |b| {
        b.iter(|| {
            Resource::new(
                "text/html; charset=utf-8",
                black_box(page.clone()),
                UNIX_EPOCH,
                true,
                Policy::default(),
            )
        })
    });
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("Resource::new/hash-only", |b| {
        b.iter(|| {
            Resource::new(
                "application/rss+xml",
                black_box(body.clone()),
                UNIX_EPOCH,
                false,
                Policy::default(),
            )
        })
    });
    // The two compressors alone, at the settings render.rs uses and cheaper ones, to show
    // what each costs per regeneration and what it saves on the wire.
    let gzip = |level: flate2::Compression, body: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
        e.write_all(body).expect("in memory");
        e.finish().expect("in memory")
    };
    let brotli = |quality: i32, body: &[u8]| {
        let params = brotli::enc::BrotliEncoderParams {
            quality,
            lgwin: 22,
            ..Default::default()
        };
        let mut out = Vec::new();
        brotli::BrotliCompress(&mut &body[..], &mut out, &params).expect("in memory");
        out
    };
    for (name, level) in [
        ("gzip-9", flate2::Compression::best()),
        ("gzip-6", flate2::Compression::default()),
    ] {
        println!(
            "resource/{name}: {} -> {} bytes",
            body.len(),
            gzip(level, &body).len()
        );
        g.bench_function(name, |b| b.iter(|| gzip(level, black_box(&body))));
    }
    for quality in [9, 5, 4] {
        println!(
            "resource/brotli-q{quality}: {} -> {} bytes",
            body.len(),
            brotli(quality, &body).len()
        );
        g.bench_function(format!("brotli-q{quality}"), |b| {
            b.iter(|| brotli(quality, black_box(&body)))
        });
    }
    g.finish();
}

fn bench_http(c: &mut Criterion) {
    let mut g = c.benchmark_group("http");
    let etag = "\"0123456789abcdef0123456789abcdef-gzip\"";
    let lm = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let none = HeaderMap::new();
    let inm_hit = headers(&[("if-none-match", etag)]);
    let inm_list = headers(&[(
        "if-none-match",
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", W/\"bbbb\", \"0123456789abcdef0123456789abcdef-gzip\"",
    )]);
    let ims = headers(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")]);
    for (name, h) in [
        ("none", &none),
        ("if-none-match/hit", &inm_hit),
        ("if-none-match/list", &inm_list),
        ("if-modified-since", &ims),
    ] {
        g.bench_function(format!("evaluate/{name}"), |b| {
            b.iter(|| evaluate(black_box(h), black_box(etag), lm))
        });
    }
    let all = [Encoding::Brotli, Encoding::Gzip, Encoding::Identity];
    for (name, h) in [
        ("absent", none.clone()),
        ("gzip", headers(&[("accept-encoding", "gzip")])),
        (
            "browser",
            headers(&[("accept-encoding", "gzip, deflate, br, zstd")]),
        ),
        (
            "qvalues",
            headers(&[("accept-encoding", "br;q=0.5, gzip;q=0.8, *;q=0.1")]),
        ),
    ] {
        g.bench_function(format!("choose_encoding/{name}"), |b| {
            b.iter(|| choose_encoding(black_box(&h), black_box(&all)))
        });
    }

    // The whole handler on a 1k-article snapshot with the ~100 KB feed.
    let articles = corpus(1_000);
    let (max_items, _) = feed_100k(&articles);
    let snapshot = Snapshot::build(
        Arc::new(config(max_items)),
        &articles,
        None,
        None,
        SystemTime::now(),
    )
    .expect("snapshot");
    let uri: Uri = "/rss.xml".parse().expect("uri");
    let now = SystemTime::now();
    let gzip = headers(&[("accept-encoding", "gzip")]);
    // The gzip ETag as the server sends it (read from a response, not from the snapshot's
    // fields, so that this bench does not depend on how the snapshot stores its resources).
    let gzip_tag = respond(&snapshot, &Method::GET, &uri, &gzip, now)
        .headers()
        .get(hyper::header::ETAG)
        .expect("an ETag")
        .to_str()
        .expect("ASCII ETag")
        .to_string();
    let conditional = headers(&[("accept-encoding", "gzip"), ("if-none-match", &gzip_tag)]);
    for (name, h) in [
        ("200-identity", &none),
        ("200-gzip", &gzip),
        ("304", &conditional),
    ] {
        g.bench_function(format!("respond/rss/{name}"), |b| {
            b.iter(|| respond(&snapshot, &Method::GET, black_box(&uri), black_box(h), now))
        });
    }
    g.finish();
}

fn short() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = short();
    targets = bench_parse, bench_items, bench_render, bench_resource, bench_http
}
criterion_main!(benches);
