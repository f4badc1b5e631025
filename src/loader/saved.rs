//! What the loader parsed, saved to a file so that a restart looks at each file's metadata
//! instead of reading and parsing it again.
//!
//! A server keeps of each article only what ordering and change detection need (its text
//! stays in its file), and that is what is saved: per file its name, size, modification and
//! change times, the hash of its bytes and the article without text. At the next start an
//! entry stands for its file when all of those times and the size are unchanged, as git's
//! index trusts a file's stat data; anything else (another size or time, a file modified
//! moments before the save, an article with warnings, a rejected file) is read as before.
//!
//! The file holds one header line naming the format, the build of feedpub that wrote it and
//! the articles folder, then the number of entries and the entries, then the xxh3-64 of
//! everything before it. A file of another build or folder, cut short or damaged is ignored
//! as a whole: the cost is one full scan. It is replaced whole (a temporary file renamed
//! over it), never written in place.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use xxhash_rust::xxh3::Xxh3;

use crate::article::{Article, Digest, Extra, TextPlace};
use crate::lang::Detection;

/// The name of the file, in the output folder. A dot-file: `serve` answers only for its
/// routes, and `contrib/nginx.conf` refuses dot-files, as it does the manifest.
pub const FILE_NAME: &str = ".feedpub-articles";

/// The first word of the header; the number after it changes with the layout.
const FORMAT: &str = "feedpub-articles 2";

/// The most a saved file may hold: far more than two million articles take.
const MAX_FILE_BYTES: u64 = 2 << 30;

/// The metadata of a file an entry stands for: all of it must be unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    /// Modification time, nanoseconds since the epoch.
    modified: u64,
    /// Status change time, nanoseconds since the epoch ([`changed_nanos`]).
    changed: u64,
}

impl Stamp {
    /// The stamp of a file of `len` bytes, modified at `modified`, its status changed at
    /// `changed` ([`changed_nanos`]); `None` for a time before the epoch.
    pub fn new(len: u64, modified: SystemTime, changed: u64) -> Option<Stamp> {
        let modified = modified.duration_since(UNIX_EPOCH).ok()?.as_nanos();
        Some(Stamp {
            len,
            modified: u64::try_from(modified).ok()?,
            changed,
        })
    }

    /// The stamp of a file's metadata.
    pub fn of(meta: &Metadata) -> Option<Stamp> {
        Stamp::new(meta.len(), meta.modified().ok()?, changed_nanos(meta))
    }
}

/// When the file's status last changed (written, renamed, restored with an old modification
/// time), in nanoseconds since the epoch; 0 where the platform does not say.
#[cfg(unix)]
pub fn changed_nanos(meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let seconds = u64::try_from(meta.ctime()).unwrap_or(0);
    let nanos = u64::try_from(meta.ctime_nsec()).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// When the file's status last changed: the platform does not say.
#[cfg(not(unix))]
pub fn changed_nanos(_meta: &Metadata) -> u64 {
    0
}

/// One file's saved entry.
#[derive(Debug)]
pub struct SavedEntry {
    /// The file's metadata when it was parsed.
    pub stamp: Stamp,
    /// The xxh3-128 of its bytes.
    pub digest: u128,
    /// Its article, text left in the file, with the file's path in this folder.
    pub article: Arc<Article>,
}

/// The entries read back from a saved file, by file name.
#[derive(Debug, Default)]
pub struct Saved {
    entries: HashMap<OsString, SavedEntry>,
}

impl Saved {
    /// The entry of the file named `name`, when it stands for a file with metadata `meta`.
    pub fn get(&self, name: &OsStr, meta: &Metadata) -> Option<&SavedEntry> {
        let entry = self.entries.get(name)?;
        (Some(entry.stamp) == Stamp::of(meta)).then_some(entry)
    }
}

/// The header line of a file written by this build for the folder `dir`. The build is
/// told by the crate's version and the executable's size and modification time, so that
/// a rebuilt parser never trusts what an older one made of a file.
fn header(dir: &Path) -> Option<String> {
    static BUILD: OnceLock<Option<String>> = OnceLock::new();
    let build = BUILD.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        let meta = fs::metadata(exe).ok()?;
        let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(format!(
            "{} {} {}",
            env!("CARGO_PKG_VERSION"),
            meta.len(),
            modified.as_nanos()
        ))
    });
    let dir = dir.to_str()?;
    if dir.contains('\n') {
        return None;
    }
    Some(format!("{FORMAT} {} {dir}\n", build.as_ref()?))
}

/// Why a saved file was not used (logged, never fatal).
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// It could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The saved file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// It is damaged or cut short.
    #[error("{}: damaged ({what}); every article is read again", path.display())]
    Damaged {
        /// The saved file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// It could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The saved file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

/// The entries saved in `file` for the articles folder `dir`: `Ok(None)` when there is no
/// such file or it was written by another build or for another folder. Read as a stream:
/// a restart holds no copy of the file.
pub fn load(file: &Path, dir: &Path) -> Result<Option<Saved>, SavedError> {
    let read_error = |source| SavedError::Read {
        path: file.to_path_buf(),
        source,
    };
    let damaged = |what| SavedError::Damaged {
        path: file.to_path_buf(),
        what,
    };
    let opened = match fs::File::open(file) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
        Ok(opened) => opened,
    };
    let len = opened.metadata().map_err(read_error)?.len();
    if len > MAX_FILE_BYTES {
        return Err(damaged("too large"));
    }
    let Some(header) = header(dir) else {
        return Ok(None);
    };
    let hashing = Hashing {
        input: opened,
        hasher: Xxh3::new(),
        unhashed: len.saturating_sub(8),
    };
    let mut reader = Reader {
        input: io::BufReader::with_capacity(1 << 16, hashing),
        left: len,
    };
    match reader.take_vec(header.len()) {
        Some(start) if start == header.as_bytes() => {}
        // Another build's or folder's (or too short to say).
        _ => return Ok(None),
    }
    let count = reader.u64().ok_or_else(|| damaged("cut short"))?;
    let mut saved = Saved {
        // An entry takes more than 64 bytes: a damaged count cannot reserve much.
        entries: HashMap::with_capacity(count.min(len / 64) as usize),
    };
    for _ in 0..count {
        let (name, entry) = read_entry(&mut reader, dir).ok_or_else(|| damaged("bad entry"))?;
        saved.entries.insert(name, entry);
    }
    let stored = reader.array::<8>().map(u64::from_le_bytes);
    if !reader.at_end() || stored != Some(reader.input.get_ref().hasher.digest()) {
        return Err(damaged("checksum"));
    }
    Ok(Some(saved))
}

/// Writes `count` entries (file name, stamp, digest, article without text) as the saved
/// file for the folder `dir`, replacing it whole. Written as a stream: no copy of the file
/// is held. Nothing is written when this build cannot name itself or the folder.
pub fn save<'a>(
    file: &Path,
    dir: &Path,
    count: usize,
    entries: impl Iterator<Item = (&'a OsStr, Stamp, u128, &'a Article)>,
) -> Result<(), SavedError> {
    let Some(header) = header(dir) else {
        return Ok(());
    };
    let write_error = |source| SavedError::Write {
        path: file.to_path_buf(),
        source,
    };
    let folder = file.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = folder.unwrap_or(Path::new("."));
    fs::create_dir_all(folder).map_err(write_error)?;
    remove_leftovers(folder);
    let temp = tempfile::Builder::new()
        .prefix(&format!("{FILE_NAME}."))
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(write_error)?;
    let mut writer = Writer {
        out: io::BufWriter::with_capacity(1 << 16, temp),
        hasher: Xxh3::new(),
        buffer: Vec::new(),
    };
    writer.buffer.extend_from_slice(header.as_bytes());
    put_u64(&mut writer.buffer, count as u64);
    writer.flush_entry().map_err(write_error)?;
    let mut written = 0;
    for (name, stamp, digest, article) in entries.take(count) {
        write_entry(&mut writer.buffer, name, stamp, digest, article);
        writer.flush_entry().map_err(write_error)?;
        written += 1;
    }
    if written != count {
        return Err(write_error(io::Error::other("fewer entries than counted")));
    }
    let sum = writer.hasher.digest().to_le_bytes();
    writer.out.write_all(&sum).map_err(write_error)?;
    let temp = writer
        .out
        .into_inner()
        .map_err(|e| write_error(e.into_error()))?;
    temp.persist(file).map_err(|e| write_error(e.error))?;
    Ok(())
}

/// Where [`save`] writes: each entry is put in `buffer`, then hashed and written.
struct Writer<W: Write> {
    out: W,
    hasher: Xxh3,
    buffer: Vec<u8>,
}

impl<W: Write> Writer<W> {
    fn flush_entry(&mut self) -> io::Result<()> {
        self.hasher.update(&self.buffer);
        self.out.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }
}

/// Removes the temporary files of saves that were cut off (the process was killed), which
/// nothing else would remove.
fn remove_leftovers(folder: &Path) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let leftover = name
            .to_str()
            .and_then(|n| n.strip_prefix(FILE_NAME))
            .is_some_and(|rest| rest.starts_with('.'));
        if leftover {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether `article` can be saved: its text is in its file and it hashes to `digest`.
pub fn savable(article: &Article, digest: u128) -> bool {
    article.text
        == TextPlace::InFile {
            digest: Digest::new(digest),
        }
}

fn write_entry(out: &mut Vec<u8>, name: &OsStr, stamp: Stamp, digest: u128, article: &Article) {
    // Every field is named, so that a new one cannot be forgotten here.
    let Article {
        id,
        path: _,
        title,
        published,
        paragraphs: _,
        views,
        draft,
        detected,
        text: _,
        extra,
    } = article;
    let empty = Extra::default();
    let Extra {
        offset,
        html: _,
        summary: _,
        tags,
        author,
        language,
        updated,
        updated_offset,
    } = extra.as_deref().unwrap_or(&empty);
    put_bytes(out, name.as_encoded_bytes());
    put_u64(out, stamp.len);
    put_u64(out, stamp.modified);
    put_u64(out, stamp.changed);
    put_u128(out, digest);
    put_bytes(out, id.as_bytes());
    put_bytes(out, title.as_bytes());
    put_time(out, *published);
    put_option(out, views.as_ref(), |out, v| put_u64(out, *v));
    put_option(out, offset.as_ref(), put_offset);
    put_u64(out, tags.len() as u64);
    for tag in tags {
        put_bytes(out, tag.as_bytes());
    }
    put_option(out, author.as_ref(), |out, a| put_bytes(out, a.as_bytes()));
    out.push(u8::from(*draft));
    put_option(out, language.as_ref(), |out, l| {
        put_bytes(out, l.as_bytes())
    });
    put_option(out, detected.as_ref(), |out, d| {
        let (script, suggested) = d.stored();
        out.push(script);
        put_bytes(out, suggested.as_bytes());
    });
    put_option(out, updated.as_ref(), |out, t| put_time(out, *t));
    put_option(out, updated_offset.as_ref(), put_offset);
}

fn read_entry<R: Read>(r: &mut Reader<R>, dir: &Path) -> Option<(OsString, SavedEntry)> {
    let name = r.os_string()?;
    let stamp = Stamp {
        len: r.u64()?,
        modified: r.u64()?,
        changed: r.u64()?,
    };
    let digest = r.u128()?;
    let id = r.string()?;
    let title = r.string()?;
    let published = r.time()?;
    let views = r.option(Reader::u64)?;
    let offset = r.option(Reader::offset)?;
    let tags = (0..r.u64()?)
        .map(|_| r.string())
        .collect::<Option<Vec<_>>>()?;
    let author = r.option(Reader::string)?;
    let draft = match r.u8()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let language = r.option(Reader::string)?;
    let detected = r.option(|r| {
        let script = r.u8()?;
        Detection::from_stored(script, &r.string()?)
    })?;
    let updated = r.option(Reader::time)?;
    let updated_offset = r.option(Reader::offset)?;
    if Path::new(&name).file_name() != Some(name.as_os_str()) {
        return None;
    }
    let extra = Extra {
        offset,
        html: None,
        summary: None,
        tags,
        author,
        language,
        updated,
        updated_offset,
    };
    let article = Article {
        id,
        path: dir.join(&name).into(),
        title,
        published,
        paragraphs: Vec::new(),
        views,
        draft,
        detected,
        text: TextPlace::InFile {
            digest: Digest::new(digest),
        },
        extra: (extra != Extra::default()).then(|| Box::new(extra)),
    };
    let entry = SavedEntry {
        stamp,
        digest,
        article: Arc::new(article),
    };
    Some((name, entry))
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_u128(out: &mut Vec<u8>, n: u128) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_time(out: &mut Vec<u8>, time: NaiveDateTime) {
    let utc = time.and_utc();
    out.extend_from_slice(&utc.timestamp().to_le_bytes());
    out.extend_from_slice(&utc.timestamp_subsec_nanos().to_le_bytes());
}

fn put_offset(out: &mut Vec<u8>, offset: &FixedOffset) {
    out.extend_from_slice(&offset.local_minus_utc().to_le_bytes());
}

fn put_option<T>(out: &mut Vec<u8>, value: Option<&T>, put: impl FnOnce(&mut Vec<u8>, &T)) {
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            put(out, value);
        }
    }
}

/// A file read through it is hashed, all but its last 8 bytes (the checksum), in the
/// blocks a buffered reader asks for.
struct Hashing<R: Read> {
    input: R,
    hasher: Xxh3,
    /// How many bytes are still to be hashed.
    unhashed: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        let hashed = n.min(usize::try_from(self.unhashed).unwrap_or(usize::MAX));
        self.hasher.update(&buf[..hashed]);
        self.unhashed -= hashed as u64;
        Ok(n)
    }
}

/// Reads what the `put_` functions wrote; every method is `None` past the end or on a
/// value they cannot have written.
struct Reader<R: Read> {
    input: R,
    /// How many bytes are left to read: no length read from the file makes it allocate
    /// more than that.
    left: u64,
}

impl<R: Read> Reader<R> {
    /// `n` bytes, when that many are left.
    fn take_vec(&mut self, n: usize) -> Option<Vec<u8>> {
        if n as u64 > self.left {
            return None;
        }
        let mut bytes = vec![0; n];
        self.input.read_exact(&mut bytes).ok()?;
        self.left -= n as u64;
        Some(bytes)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut bytes = [0; N];
        self.input.read_exact(&mut bytes).ok()?;
        self.left = self.left.saturating_sub(N as u64);
        Some(bytes)
    }

    /// Whether nothing follows.
    fn at_end(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.input.read(&mut byte), Ok(0))
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    fn u128(&mut self) -> Option<u128> {
        Some(u128::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = usize::try_from(self.u64()?).ok()?;
        self.take_vec(len)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }

    fn os_string(&mut self) -> Option<OsString> {
        let bytes = self.bytes()?;
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            Some(OsString::from_vec(bytes))
        }
        #[cfg(not(unix))]
        {
            Some(OsString::from(String::from_utf8(bytes).ok()?))
        }
    }

    fn time(&mut self) -> Option<NaiveDateTime> {
        let seconds = i64::from_le_bytes(self.array()?);
        let nanos = u32::from_le_bytes(self.array()?);
        Some(DateTime::from_timestamp(seconds, nanos)?.naive_utc())
    }

    fn offset(&mut self) -> Option<FixedOffset> {
        FixedOffset::east_opt(i32::from_le_bytes(self.array()?))
    }

    /// A value written by `put_option`: `Some(None)` for an absent one.
    fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> Metadata {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        fs::metadata(path).unwrap()
    }

    /// Every field of an article set, as Markdown front matter sets them.
    const FULL: &str = "---\ntitle: Everything\ndate: 2024-03-01T10:20:30+03:30\nid: full-1\n\
        summary: A summary.\ntags: [one, دو]\nauthor: Someone\nlanguage: fa-IR\n\
        updated: 2024-03-02T08:00:00+01:00\n---\nسلام دنیا، متن فارسی.\n";

    fn saved_one(dir: &Path, file: &Path, text: &str) -> (Article, Metadata) {
        let meta = write(dir, "a.md", text);
        let path = dir.join("a.md");
        let digest = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
        let article = Article::from_bytes(&path, text.as_bytes())
            .unwrap()
            .article
            .without_text(digest);
        let stamp = Stamp::of(&meta).unwrap();
        save(
            file,
            dir,
            1,
            [(OsStr::new("a.md"), stamp, digest, &article)].into_iter(),
        )
        .unwrap();
        (article, meta)
    }

    #[test]
    fn an_article_with_every_field_reads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out").join(FILE_NAME);
        let (article, meta) = saved_one(dir.path(), &file, FULL);
        assert!(article.detected.is_some() && article.updated_offset().is_some());
        assert!(article.author().is_some() && article.language().is_some());
        let saved = load(&file, dir.path()).unwrap().unwrap();
        let entry = saved.get(OsStr::new("a.md"), &meta).unwrap();
        assert_eq!(*entry.article, article);
        assert!(savable(&entry.article, entry.digest));
    }

    #[test]
    fn an_entry_stands_only_for_a_file_with_the_same_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let (_, meta) = saved_one(dir.path(), &file, FULL);
        let saved = load(&file, dir.path()).unwrap().unwrap();
        assert!(saved.get(OsStr::new("b.md"), &meta).is_none());
        // Rewritten with the same length and its old modification time: the change time
        // still tells.
        let path = dir.path().join("a.md");
        let modified = meta.modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&path, FULL.replace("Everything", "Something!")).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let now = fs::metadata(&path).unwrap();
        assert_eq!((now.len(), now.modified().unwrap()), (meta.len(), modified));
        if cfg!(unix) {
            assert!(saved.get(OsStr::new("a.md"), &now).is_none());
        }
    }

    #[test]
    fn a_damaged_cut_or_foreign_file_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        assert!(load(&file, dir.path()).unwrap().is_none(), "no file yet");
        saved_one(dir.path(), &file, FULL);
        let good = fs::read(&file).unwrap();
        // Another articles folder.
        assert!(load(&file, &dir.path().join("other")).unwrap().is_none());
        // Every byte flipped in turn past the header, and every cut: an error, never a
        // wrong entry.
        let header = header(dir.path()).unwrap().len();
        for at in header..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            fs::write(&file, &bad).unwrap();
            assert!(
                matches!(load(&file, dir.path()), Err(SavedError::Damaged { .. })),
                "byte {at}"
            );
        }
        for len in header..good.len() {
            fs::write(&file, &good[..len]).unwrap();
            let error = load(&file, dir.path()).unwrap_err().to_string();
            assert!(error.contains(FILE_NAME), "{error}");
        }
    }

    #[test]
    fn a_save_replaces_the_file_whole_and_removes_what_cut_off_saves_left() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let leftover = dir.path().join(format!("{FILE_NAME}.a1b2c3.tmp"));
        fs::write(&leftover, b"half a save").unwrap();
        let other = dir.path().join(".feedpub-manifest");
        fs::write(&other, b"+ rss.xml\n").unwrap();
        saved_one(dir.path(), &file, FULL);
        assert!(!leftover.exists());
        assert!(other.exists());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn entries_that_pass_the_checksum_but_make_no_sense_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let (article, meta) = saved_one(dir.path(), &file, FULL);
        let mut out = header(dir.path()).unwrap().into_bytes();
        put_u64(&mut out, 1);
        // A whole entry, under a name that leaves the folder.
        let stamp = Stamp::of(&meta).unwrap();
        write_entry(&mut out, OsStr::new("../a.md"), stamp, 1, &article);
        let sum = xxhash_rust::xxh3::xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        fs::write(&file, &out).unwrap();
        assert!(matches!(
            load(&file, dir.path()),
            Err(SavedError::Damaged { .. })
        ));
    }
}
