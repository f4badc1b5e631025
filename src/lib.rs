//! feedpub turns a folder of scraped news articles into RSS 2.0 and Atom 1.0 feeds, and
//! serves them.
//!
//! The data flows forward through one module per stage:
//!
//! ```text
//! article file ──loader──▶ Article ──corpus──▶ Ranking ──item──▶ FeedItem ──feed──▶ bytes
//!   (bytes)      (scan,    (article)  (feed order,        (newest      (rss, atom, json)
//!               changes)              kept sorted)        max_items)          │
//!                                                                             ▼
//!          HTTP response ◀──http── Snapshot (bytes, gzip, br, ETag) ◀──render
//!          (200 or 304)            swapped atomically; feeds/ written by publish
//! ```
//!
//! - [`config`]: `feedpub.toml` and flags, validated once.
//! - [`article`]: pure parsing of one file; errors name the file and line.
//! - [`markdown`]: the second article format, Markdown with front matter.
//! - [`loader`]: the only code that reads the articles folder; says what changed.
//! - [`corpus`]: the published articles in feed order, overall and by tag, updated by
//!   changes at the cost of what changed.
//! - [`item`]: the format-neutral [`FeedItem`] and its order.
//! - [`feed`]: RSS and Atom documents.
//! - [`render`]: bytes → compressed variants and validators, once per generation.
//! - [`snapshot`]: one generation of everything served, swapped atomically.
//! - [`publish`]: writes `feeds/` by temporary file and rename.
//! - [`http`]: the conditional-request decision, the handler, the accept loop.
//! - [`serve`]: regeneration on change and the server's life cycle.
//! - [`websub`]: tells WebSub hubs which feeds changed.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod article;
pub mod config;
pub mod corpus;
pub mod feed;
pub mod html;
pub mod http;
pub mod item;
pub mod loader;
pub mod pages;
pub mod publish;
pub mod render;
pub mod serve;
pub mod snapshot;
pub mod urls;
pub mod websub;

pub use article::{Article, ArticleError, Diagnostic, Parsed};
pub use config::{Config, ConfigError, Overrides};
pub use feed::RenderError;
pub use item::FeedItem;
pub use loader::{Changes, LoadError, LoadReport, Loader, Refresh, Scope};
pub use publish::{write_all, PublishError, Written};
pub use serve::{ServeError, ServeOptions, Server};
pub use snapshot::{Feeds, Snapshot};
pub use urls::{Format, Route};
