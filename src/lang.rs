//! Languages and scripts: BCP 47 tags, the script a text is written in, which way a
//! language is written, and the rule that gives every article its language.
//!
//! The rule, in order (the README says the same):
//! 1. the article's own `language` (Markdown front matter);
//! 2. no letters at all: the site's `language`;
//! 3. most letters in the site language's script: the site's `language`;
//! 4. else a language for that script: when `languages` is configured, the one the text
//!    suggests if listed (Persian, Arabic or Urdu for Arabic script, by the letters only
//!    one of them uses), else the first listed language written in that script, else the
//!    site's `language`; when it is not configured, the built-in language of the script
//!    (the one the text suggests for Arabic script, `he`, `ru`, `el`, `ja`, `zh`, ...).
//!
//! Pure: characters in, tags out.

use oxilangtag::LanguageTag;

/// A writing system, as far as telling languages apart needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// Latin (`Latn`).
    Latin,
    /// Arabic (`Arab`): Arabic, Persian, Urdu, Pashto, ...
    Arabic,
    /// Hebrew (`Hebr`).
    Hebrew,
    /// Syriac (`Syrc`).
    Syriac,
    /// Thaana (`Thaa`): Dhivehi.
    Thaana,
    /// Cyrillic (`Cyrl`).
    Cyrillic,
    /// Greek (`Grek`).
    Greek,
    /// Armenian (`Armn`).
    Armenian,
    /// Georgian (`Geor`).
    Georgian,
    /// Devanagari (`Deva`).
    Devanagari,
    /// Bengali (`Beng`).
    Bengali,
    /// Thai (`Thai`).
    Thai,
    /// Hangul (`Hang`): Korean.
    Hangul,
    /// Hiragana and Katakana (`Jpan` with Han): Japanese.
    Kana,
    /// Han ideographs (`Hani`).
    Han,
    /// Ethiopic (`Ethi`).
    Ethiopic,
}

impl Script {
    /// Whether the script is written right to left.
    pub fn is_rtl(self) -> bool {
        matches!(
            self,
            Script::Arabic | Script::Hebrew | Script::Syriac | Script::Thaana
        )
    }

    /// The script of one character, for the letters this module tells apart.
    pub fn of_char(c: char) -> Option<Script> {
        let script = match c as u32 {
            0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF => Script::Latin,
            0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
            0x400..=0x52F => Script::Cyrillic,
            0x531..=0x58F => Script::Armenian,
            0x591..=0x5FF | 0xFB1D..=0xFB4F => Script::Hebrew,
            0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
                Script::Arabic
            }
            0x700..=0x74F => Script::Syriac,
            0x780..=0x7BF => Script::Thaana,
            0x900..=0x97F => Script::Devanagari,
            0x980..=0x9FF => Script::Bengali,
            0xE00..=0xE7F => Script::Thai,
            0x10A0..=0x10FF => Script::Georgian,
            0x1200..=0x139F => Script::Ethiopic,
            0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
            0x3040..=0x30FF | 0x31F0..=0x31FF => Script::Kana,
            0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF => Script::Han,
            _ => return None,
        };
        // Only letters count: Arabic-Indic digits and punctuation say nothing.
        c.is_alphabetic().then_some(script)
    }

    /// The script of a BCP 47 script subtag (`Latn`, `Arab`, ...).
    fn of_subtag(subtag: &str) -> Option<Script> {
        Some(match subtag.to_ascii_lowercase().as_str() {
            "latn" => Script::Latin,
            "arab" => Script::Arabic,
            "hebr" => Script::Hebrew,
            "syrc" => Script::Syriac,
            "thaa" => Script::Thaana,
            "cyrl" => Script::Cyrillic,
            "grek" => Script::Greek,
            "armn" => Script::Armenian,
            "geor" => Script::Georgian,
            "deva" => Script::Devanagari,
            "beng" => Script::Bengali,
            "thai" => Script::Thai,
            "hang" | "kore" => Script::Hangul,
            "jpan" | "hira" | "kana" | "hrkt" => Script::Kana,
            "hani" | "hans" | "hant" => Script::Han,
            "ethi" => Script::Ethiopic,
            _ => return None,
        })
    }
}

/// Primary language subtags and the script each is usually written in; any other language
/// is taken to be written in Latin script unless its tag names a script.
const LANGUAGE_SCRIPTS: &[(Script, &[&str])] = &[
    (
        Script::Arabic,
        &[
            "ar", "fa", "ur", "ps", "sd", "ug", "ckb", "ks", "prs", "pnb", "bal", "glk", "mzn",
            "lrc", "azb", "arz", "apc", "ary", "acm", "aeb",
        ],
    ),
    (Script::Hebrew, &["he", "iw", "yi"]),
    (Script::Syriac, &["syr"]),
    (Script::Thaana, &["dv"]),
    (
        Script::Cyrillic,
        &[
            "ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tg", "mn", "tt", "ba", "cv", "ce",
            "os", "ab", "sah",
        ],
    ),
    (Script::Greek, &["el"]),
    (Script::Armenian, &["hy"]),
    (Script::Georgian, &["ka"]),
    (Script::Devanagari, &["hi", "mr", "ne", "sa", "mai", "bho"]),
    (Script::Bengali, &["bn", "as"]),
    (Script::Thai, &["th"]),
    (Script::Hangul, &["ko"]),
    (Script::Kana, &["ja"]),
    (Script::Han, &["zh", "yue", "wuu", "cmn"]),
    (Script::Ethiopic, &["am", "ti"]),
];

/// A well-formed BCP 47 (RFC 5646) language tag in its canonical case (`fa`, `en-US`,
/// `zh-Hant-TW`), or why not.
pub fn normalize_tag(tag: &str) -> Result<String, String> {
    let trimmed = tag.trim();
    match LanguageTag::parse_and_normalize(trimmed) {
        Ok(parsed) => Ok(parsed.into_inner()),
        Err(e) => Err(format!(
            "`{tag}` is not a BCP 47 language tag ({e}): expected a tag such as `en`, `fa` or `pt-BR`"
        )),
    }
}

/// The script `tag` is written in: its script subtag, else the usual script of its
/// language, else Latin.
pub fn script_of_tag(tag: &str) -> Script {
    let Ok(parsed) = LanguageTag::parse(tag) else {
        return Script::Latin;
    };
    if let Some(script) = parsed.script().and_then(Script::of_subtag) {
        return script;
    }
    let language = parsed.primary_language().to_ascii_lowercase();
    LANGUAGE_SCRIPTS
        .iter()
        .find(|(_, languages)| languages.contains(&language.as_str()))
        .map_or(Script::Latin, |(script, _)| *script)
}

/// Whether `tag` is written right to left.
pub fn is_rtl(tag: &str) -> bool {
    script_of_tag(tag).is_rtl()
}

/// [`Script::of_char`], from a table for the first 4,096 code points (Latin to Thai, where
/// nearly every article's letters are). Outside ASCII, `char::is_alphabetic` searches the
/// standard library's Unicode tables for each character, and the chain of ranges came
/// before it: together they were a third of the CPU of loading 100,000 Persian articles.
fn script_of_letter(c: char) -> Option<Script> {
    const TABLED: usize = 4096;
    const NONE: u8 = u8::MAX;
    static TABLE: std::sync::OnceLock<[u8; TABLED]> = std::sync::OnceLock::new();
    let n = c as usize;
    if n >= TABLED {
        return Script::of_char(c);
    }
    let table = TABLE.get_or_init(|| {
        let mut table = [NONE; TABLED];
        for (n, slot) in table.iter_mut().enumerate() {
            if let Some(script) = char::from_u32(n as u32).and_then(Script::of_char) {
                *slot = script as u8;
            }
        }
        table
    });
    match table[n] {
        NONE => None,
        index => Some(ALL_SCRIPTS[usize::from(index)]),
    }
}

/// What the letters of a text say about its language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Detection {
    /// The script most of its letters are in.
    pub script: Script,
    /// The language the letters suggest: for Arabic script, Persian, Arabic or Urdu by the
    /// letters only one of them uses; for the others, the script's most common language.
    pub suggested: &'static str,
}

impl Detection {
    /// The detection as it is stored: the index of its script and the language it suggests;
    /// [`Detection::from_stored`] reads it back.
    pub fn stored(self) -> (u8, &'static str) {
        (self.script as u8, self.suggested)
    }

    /// The detection that [`Detection::stored`] gave `(script, suggested)`, when [`detect`]
    /// can give it (an unknown script or suggestion is `None`).
    pub fn from_stored(script: u8, suggested: &str) -> Option<Detection> {
        let script = *ALL_SCRIPTS.get(usize::from(script))?;
        let suggested = match (script, suggested) {
            (Script::Arabic, "ur") => "ur",
            (Script::Arabic, "fa") => "fa",
            (Script::Arabic, "ar") => "ar",
            (Script::Arabic, _) => return None,
            (other, given) => Some(default_language(other)).filter(|d| *d == given)?,
        };
        Some(Detection { script, suggested })
    }
}

/// How many letters [`detect`] looks at: the title and the opening of the text say enough,
/// and the cost stays flat for long articles.
const SAMPLE_LETTERS: usize = 2000;

/// The script most letters of `texts` (read in order, up to 2000 letters) are written in,
/// and the language they suggest; `None` when there are no letters.
pub fn detect<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<Detection> {
    let mut counts = [0usize; 16];
    let mut letters = 0;
    let (mut persian, mut arabic, mut urdu) = (0usize, 0usize, 0usize);
    'texts: for text in texts {
        for c in text.chars() {
            let Some(script) = script_of_letter(c) else {
                continue;
            };
            counts[script as usize] += 1;
            match c {
                // پ چ ژ گ ک ی: Persian letters Arabic does not use.
                '\u{067E}' | '\u{0686}' | '\u{0698}' | '\u{06AF}' | '\u{06A9}' | '\u{06CC}' => {
                    persian += 1
                }
                // ي ك ة: the Arabic forms Persian writes as ی and ک (and rarely uses ة).
                '\u{064A}' | '\u{0643}' | '\u{0629}' => arabic += 1,
                // ٹ ڈ ڑ ں ے ہ: Urdu letters.
                '\u{0679}' | '\u{0688}' | '\u{0691}' | '\u{06BA}' | '\u{06D2}' | '\u{06C1}' => {
                    urdu += 1
                }
                _ => {}
            }
            letters += 1;
            if letters >= SAMPLE_LETTERS {
                break 'texts;
            }
        }
    }
    if letters == 0 {
        return None;
    }
    let (index, _) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))?;
    let script = ALL_SCRIPTS[index];
    // Japanese mixes kana with Han ideographs, often more Han than kana.
    let script = if script == Script::Han && counts[Script::Kana as usize] > 0 {
        Script::Kana
    } else {
        script
    };
    let suggested = match script {
        // Urdu letters are frequent in Urdu (ے alone ends most verbs) and absent elsewhere.
        Script::Arabic if urdu * 20 >= counts[Script::Arabic as usize] => "ur",
        Script::Arabic if persian >= arabic => "fa",
        Script::Arabic => "ar",
        other => default_language(other),
    };
    Some(Detection { script, suggested })
}

/// The scripts in the order of their discriminants.
const ALL_SCRIPTS: [Script; 16] = [
    Script::Latin,
    Script::Arabic,
    Script::Hebrew,
    Script::Syriac,
    Script::Thaana,
    Script::Cyrillic,
    Script::Greek,
    Script::Armenian,
    Script::Georgian,
    Script::Devanagari,
    Script::Bengali,
    Script::Thai,
    Script::Hangul,
    Script::Kana,
    Script::Han,
    Script::Ethiopic,
];

/// The most common language written in `script`.
fn default_language(script: Script) -> &'static str {
    LANGUAGE_SCRIPTS
        .iter()
        .find(|(s, _)| *s == script)
        .map_or("en", |(_, languages)| languages[0])
}

/// The languages of a site: its own, and the ones detection may give an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Languages {
    /// The site's language (`language`), normalized.
    pub site: String,
    /// The configured `languages`, normalized, in the order given; empty when not
    /// configured.
    pub listed: Vec<String>,
}

impl Languages {
    /// The language of a text whose author named `explicit` and whose letters say
    /// `detected` (see the module's rule).
    pub fn resolve<'a>(
        &'a self,
        explicit: Option<&'a str>,
        detected: Option<Detection>,
    ) -> &'a str {
        if let Some(tag) = explicit {
            return tag;
        }
        let Some(detected) = detected else {
            return &self.site;
        };
        if script_of_tag(&self.site) == detected.script {
            return &self.site;
        }
        if self.listed.is_empty() {
            return detected.suggested;
        }
        let suggested = self.listed.iter().find(|l| {
            LanguageTag::parse(l.as_str()).is_ok_and(|t| {
                t.primary_language()
                    .eq_ignore_ascii_case(detected.suggested)
            })
        });
        suggested
            .or_else(|| {
                self.listed
                    .iter()
                    .find(|l| script_of_tag(l) == detected.script)
            })
            .map_or(self.site.as_str(), String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_detection_reads_back_the_same() {
        for text in [
            "Hello",
            "سلام پدر",
            "مرحبا يا",
            "یہ ہے",
            "Привет",
            "日本語のテキスト",
            "漢字",
        ] {
            let detection = detect([text]).unwrap();
            let (script, suggested) = detection.stored();
            assert_eq!(
                Detection::from_stored(script, suggested),
                Some(detection),
                "{text}"
            );
        }
        assert_eq!(Detection::from_stored(1, "en"), None);
        assert_eq!(Detection::from_stored(0, "fa"), None);
        assert_eq!(Detection::from_stored(200, "en"), None);
    }

    #[test]
    fn the_letter_table_agrees_with_the_ranges() {
        for n in (0..0x1_1000).chain([0x1F600, 0x2_0000, 0x10_FFFF]) {
            if let Some(c) = char::from_u32(n) {
                assert_eq!(super::script_of_letter(c), Script::of_char(c), "U+{n:04X}");
            }
        }
        for (i, script) in super::ALL_SCRIPTS.iter().enumerate() {
            assert_eq!(*script as usize, i);
        }
    }

    fn site(site: &str, listed: &[&str]) -> Languages {
        Languages {
            site: site.into(),
            listed: listed.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn tags_are_checked_and_put_in_canonical_case() {
        assert_eq!(normalize_tag("fa").unwrap(), "fa");
        assert_eq!(normalize_tag("EN-us").unwrap(), "en-US");
        assert_eq!(normalize_tag("zh-hant-tw").unwrap(), "zh-Hant-TW");
        for bad in ["xx_YY!", "", "e", "english language", "fa-"] {
            let e = normalize_tag(bad).unwrap_err();
            assert!(e.contains("BCP 47"), "{bad}: {e}");
        }
    }

    #[test]
    fn scripts_and_directions_of_tags() {
        assert_eq!(script_of_tag("fa"), Script::Arabic);
        assert_eq!(script_of_tag("fa-IR"), Script::Arabic);
        assert_eq!(script_of_tag("az-Arab"), Script::Arabic);
        assert_eq!(script_of_tag("sr-Latn"), Script::Latin);
        assert_eq!(script_of_tag("sr"), Script::Cyrillic);
        assert_eq!(script_of_tag("de"), Script::Latin);
        assert!(is_rtl("fa") && is_rtl("he") && is_rtl("ur") && is_rtl("dv"));
        assert!(!is_rtl("en") && !is_rtl("ru") && !is_rtl("az-Latn"));
    }

    #[test]
    fn detection_tells_persian_arabic_and_urdu_apart() {
        let fa = detect(["پلیس فتا نسبت به کلاهبرداری‌های اینترنتی هشدار داد"]).unwrap();
        assert_eq!((fa.script, fa.suggested), (Script::Arabic, "fa"));
        let ar = detect(["أعلنت الشرطة في بيان رسمي يوم الخميس عن القبض على شبكة"]).unwrap();
        assert_eq!((ar.script, ar.suggested), (Script::Arabic, "ar"));
        let ur = detect(["پولیس نے شہر میں ٹریفک کے نئے قوانین کا اعلان کیا ہے"]).unwrap();
        assert_eq!((ur.script, ur.suggested), (Script::Arabic, "ur"));
        let ja = detect(["東京で新しい交通規則が発表されました"]).unwrap();
        assert_eq!(ja.suggested, "ja");
        assert_eq!(
            detect(["شبكة", "Hello there"]).unwrap().script,
            Script::Latin
        );
        assert_eq!(detect(["۱۲۳ 456 !?"]), None);
    }

    #[test]
    fn the_rule_prefers_the_author_then_the_site_then_the_list() {
        let persian = detect(["دستگیری باند سارقان منازل در شمال تهران"]);
        let english = detect(["Police arrest a gang of burglars"]);
        let arabic = detect(["القبض على شبكة"]);
        let en = site("en", &[]);
        assert_eq!(en.resolve(Some("de"), persian), "de");
        assert_eq!(en.resolve(None, None), "en");
        assert_eq!(en.resolve(None, english), "en");
        assert_eq!(en.resolve(None, persian), "fa");
        assert_eq!(en.resolve(None, arabic), "ar");
        // A list bounds what detection gives.
        let listed = site("en", &["en", "fa"]);
        assert_eq!(listed.resolve(None, persian), "fa");
        assert_eq!(
            listed.resolve(None, arabic),
            "fa",
            "the listed Arabic-script language"
        );
        assert_eq!(site("en", &["ps"]).resolve(None, persian), "ps");
        assert_eq!(site("en", &["de"]).resolve(None, persian), "en");
        // A Persian site: its own language for Persian and Arabic-script text alike.
        let fa = site("fa", &[]);
        assert_eq!(fa.resolve(None, arabic), "fa");
        assert_eq!(fa.resolve(None, english), "en");
    }
}
