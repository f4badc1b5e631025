//! Temporary workspaces: a folder holding `articles/`, an output folder (`feeds/`) and a
//! `feedpub.toml`; builders for article texts in the scraped format; and copies of the
//! fixture corpora under `tests/fixtures/articles/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::common::wait::POLL;

/// The folder of the article fixtures (`corpus/`, `parse/`, `bad/`).
pub const ARTICLE_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/articles");

/// The corpus every server test starts from; `zz_bad*` files are left out.
pub const CORPUS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/articles/corpus"
);

/// How many items the corpus publishes (`dup_a` and `dup_b` are one article).
pub const CORPUS_ITEMS: usize = 9;

/// A fixture folder of `tests/fixtures/articles/`, such as `corpus` or `parse`.
pub fn fixtures(folder: &str) -> PathBuf {
    Path::new(ARTICLE_FIXTURES).join(folder)
}

/// A path inside the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A temporary folder holding `articles/` (created), `feeds/` (the output, not created)
/// and `feedpub.toml` (written by the constructors that take a configuration). The folder
/// is removed when the workspace is dropped.
pub struct Workspace {
    /// The temporary folder itself.
    pub dir: TempDir,
    /// `articles/`, created empty.
    pub articles: PathBuf,
    /// `feeds/`, the output folder; not created.
    pub output: PathBuf,
    /// `feedpub.toml`.
    pub config: PathBuf,
}

impl Workspace {
    /// A workspace with an empty `articles/` folder and no configuration file yet.
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("feedpub-test")
            .tempdir()
            .expect("create a temporary folder");
        let root = dir.path().to_path_buf();
        let articles = root.join("articles");
        fs::create_dir(&articles).expect("create the articles folder");
        Workspace {
            articles,
            output: root.join("feeds"),
            config: root.join("feedpub.toml"),
            dir,
        }
    }

    /// A workspace whose `feedpub.toml` is exactly `text`.
    pub fn with_config(text: &str) -> Workspace {
        let workspace = Workspace::new();
        workspace.write_config_text(text);
        workspace
    }

    /// A workspace with an empty articles folder and the standard configuration
    /// ([`Workspace::config_text`]) with `extra` appended.
    pub fn empty(extra: &str) -> Workspace {
        let workspace = Workspace::new();
        workspace.write_config(extra);
        workspace
    }

    /// Like [`Workspace::empty`], with the corpus copied in.
    pub fn with_corpus(extra: &str) -> Workspace {
        let workspace = Workspace::empty(extra);
        let copied = copy_corpus(&workspace.articles);
        assert_eq!(copied, 10, "the corpus should hold 10 good files");
        workspace
    }

    /// The folder everything lives in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `name` inside the workspace.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    /// The standard configuration text: absolute folders, Tehran time, a short debounce, a
    /// free port, then `extra`.
    pub fn config_text(&self, extra: &str) -> String {
        format!(
            "articles = '{}'\noutput = '{}'\ntimezone = \"Asia/Tehran\"\ndebounce_ms = 50\naddr = \"127.0.0.1:0\"\n{extra}\n",
            self.articles.display(),
            self.output.display(),
        )
    }

    /// Writes the standard configuration file with `extra` appended.
    pub fn write_config(&self, extra: &str) {
        self.write_config_text(&self.config_text(extra));
    }

    /// Writes `text` as the configuration file.
    pub fn write_config_text(&self, text: &str) {
        fs::write(&self.config, text).expect("write the configuration");
    }

    /// Creates the output folder.
    pub fn create_output(&self) {
        fs::create_dir_all(&self.output).expect("create the output folder");
    }

    /// Writes (or replaces) the article file `name`.
    pub fn write_article(&self, name: &str, text: &str) {
        fs::write(self.articles.join(name), text).expect("write an article");
    }

    /// The path of the article file `name`.
    pub fn article_path(&self, name: &str) -> PathBuf {
        self.articles.join(name)
    }

    /// Copies the files `order` of `from`, in that order, into a new folder `name` of the
    /// workspace; returns the folder.
    pub fn copy_files(&self, from: &Path, name: &str, order: &[String]) -> PathBuf {
        let to = self.path(name);
        fs::create_dir_all(&to).expect("create the folder to copy into");
        for file in order {
            fs::copy(from.join(file), to.join(file)).unwrap_or_else(|e| panic!("copy {file}: {e}"));
        }
        to
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Workspace::new()
    }
}

impl Drop for Workspace {
    /// A server still running when a test fails may write `feeds/` while the folder is
    /// being removed; try again for a moment so that no temporary folder is left behind.
    fn drop(&mut self) {
        for _ in 0..20 {
            if fs::remove_dir_all(self.dir.path()).is_ok() || !self.dir.path().exists() {
                return;
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Copies the good files of the corpus (`*.txt`, not `zz_bad*`) into `to`; returns how many.
pub fn copy_corpus(to: &Path) -> usize {
    let mut copied = 0;
    for entry in fs::read_dir(CORPUS_DIR).expect("read the corpus folder") {
        let entry = entry.expect("corpus entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("zz_bad") || !name.ends_with(".txt") {
            continue;
        }
        fs::copy(entry.path(), to.join(&*name)).expect("copy a corpus file");
        copied += 1;
    }
    copied
}

/// The names of the files of a folder, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An article file in the scraped format: header, date line, title, paragraphs, footer.
pub fn article_text(
    number: u64,
    title: &str,
    when: chrono::NaiveDateTime,
    paragraphs: &[String],
) -> String {
    let mut text = String::from("Print        Send to Friend\n\n");
    text.push_str(&when.format("%-d %b %Y").to_string());
    text.push_str("\n\n");
    text.push_str(title);
    text.push_str("\n\n");
    for p in paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "{}    /    number : {number}    /    Show Count : {}\n",
        when.format("%H:%M - %Y/%m/%d"),
        100 + number % 900
    ));
    text
}

/// A simple generated article numbered `number`, dated `days` days after 1 Jan 2025 at noon.
pub fn simple_article(number: u64, title: &str, days: i64, body: &str) -> String {
    let when = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
        .expect("a date")
        .and_hms_opt(12, 0, 0)
        .expect("a time")
        + chrono::Duration::days(days);
    article_text(
        number,
        title,
        when,
        &[body.to_string(), "A second paragraph.".to_string()],
    )
}

/// An article dated 12 May 2018 at 12:MM (MM = `number` mod 60) with one `body` paragraph
/// (which may hold blank lines, making more paragraphs) and a view count of 1.
pub fn story(number: u32, title: &str, body: &str) -> String {
    format!(
        "Print  Send to Friend\n\n12 May 2018\n\n{title}\n\n{body}\n\n12:{:02} - 2018/05/12 / number : {number} / Show Count : 1\n",
        number % 60
    )
}

/// Every file under `dir` (hidden ones too), as `/`-separated paths relative to it.
pub fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries =
            fs::read_dir(&folder).unwrap_or_else(|e| panic!("read {}: {e}", folder.display()));
        for entry in entries {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("a path under the folder");
                files.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files
}
