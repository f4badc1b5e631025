//! feedpub turns a folder of articles into RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds, a
//! site of pages around them, and serves them.
//!
//! One pipeline, two sinks. The real function of each arrow:
//!
//! ```text
//! article file ──Loader::scan / refresh──▶ Article ──Corpus::new / apply──▶ Ranking
//!   (bytes)        (Article::from_bytes)   (article)   (feed order, by tag)  (corpus)
//!                                                                               │
//!        ┌──────────────────── Snapshot::build / Snapshot::update ◀─────────────┘
//!        │  Feeds::render_ranking: items_of ──▶ FeedItem ──feed::render──▶ bytes
//!        │  pages::index_html, pages::article_html, feed::archive::render_page
//!        ▼
//!   Resource::new (gzip, br, ETag, Last-Modified)  ──▶  Snapshot (one generation)
//!        │                                                    │
//!        ├── publish::publish_site / publish_changes ──▶ output folder   (`build`, and
//!        │                                                    │           `serve`'s copy)
//!        │     hubs ◀──ping::announce── ping::Plan::read ◀────┘           (`ping`,
//!        │                                                                `build --ping`)
//!        └── http::routes::respond(Route::parse(path)) ──▶ 200 / 304     (`serve`)
//!              polls ──stats::Recorder::observe──▶ stats::Writer (once a second) ──▶ SQLite
//! ```
//!
//! Layers, each referring only to those below it (`tests/layers.rs` keeps it so):
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | 0 | [`config`], [`urls`], [`html`], [`lang`] | settings; every path, file name and content type; escaping; languages and scripts |
//! | 1 | [`article`] | bytes → [`Article`]: the scraped and the Markdown format |
//! | 2 | [`loader`] | the only code that reads the articles folder; says what changed |
//! | 3 | [`corpus`], [`item`] | feed order, overall and by tag; the format-neutral [`FeedItem`] |
//! | 4 | [`feed`], [`pages`] | items in, bytes out: RSS, Atom, JSON Feed, archive pages, HTML |
//! | 5 | [`render`], [`hosts`], [`metrics`], [`stats`] | bytes → compressed variants and validators; the static hosts' files; the server's metrics; subscriber statistics from the polls |
//! | 6 | [`snapshot`] | one generation of the whole site: what each document holds |
//! | 7 | [`publish`], [`http`], [`watch`] | the snapshot to disk; the snapshot over HTTP; which article files changed |
//! | 8 | [`serve`], [`websub`], [`ping`] | life cycle, regeneration and watching; hubs; pings for a static site |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod article;
pub mod config;
pub mod corpus;
pub mod feed;
pub mod hosts;
pub mod html;
pub mod http;
pub mod item;
pub mod lang;
pub mod loader;
pub mod metrics;
pub mod pages;
pub mod ping;
pub mod publish;
pub mod render;
pub mod serve;
pub mod snapshot;
pub mod stats;
pub mod urls;
pub mod watch;
pub mod websub;

pub use article::{Article, ArticleError, Diagnostic, Parsed};
pub use config::{Config, ConfigError, Overrides};
pub use feed::RenderError;
pub use item::FeedItem;
pub use loader::{Changes, LoadError, LoadReport, Loader, Refresh, Scope};
pub use ping::{PingError, PingState, Plan};
pub use publish::{write_all, PublishError, Written};
pub use serve::{RegenerateError, ServeError, ServeOptions, Server};
pub use snapshot::{Feeds, Snapshot};
pub use urls::{Format, Route};
