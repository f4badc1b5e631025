#!/usr/bin/python3
"""Writes the expected.tsv files of the interop suite from tables typed here by hand.

Nothing here runs or imports feedpub. Every id, title and local publication time below was
read off the article files by a person (for seeds/, they are the ones of
tests/fixtures/articles/EXPECTED.md); only the conversion of the local Asia/Tehran wall-clock
time to a UTC Unix timestamp is computed, with the standard library's zoneinfo:

* a local time that occurs twice (the hour before clocks go back) is read as the first one
  (fold=0, the daylight-saving offset);
* a local time that does not exist (clocks jump forward) is read by zoneinfo with the offset in
  force before the jump (fold=0); e.g. 2022-03-22 00:00 gives 2022-03-21T20:30:00Z, which is
  the same instant as 01:00 +04:30.

Usage: make_expected.py          rewrite the .tsv files (beside this script, and broken/)
       make_expected.py --check  exit 1 when a .tsv file differs from what this script writes

TSV columns: id, title, utc_unix, link, local (the local time typed below, for people).
Rows are in feed order: newest first, ties by id. `{base_url}` in a link is replaced by the
URL the feed is served under.
"""

import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

TEHRAN = ZoneInfo("Asia/Tehran")
HERE = Path(__file__).resolve().parent
LINK = "{base_url}/articles/{id}.html"

# The seed corpus (repository folder seeds/): 21 scraped articles and 3 Markdown ones (plus a
# Markdown draft that is never published), none rejected.
SEEDS = [
    ("26462", "The need for international capacity building to combat cybercrime", "2018-05-12 12:55"),
    ("18234", "Traffic police launch winter road safety campaign", "2016-02-14 10:30"),
    ("19871", "Border guards seize 1.2 tonnes of narcotics & arrest four smugglers", "2016-07-03 08:15"),
    ("20513", "Cyber police warn of fake “lottery win” text messages", "2016-11-22 16:45"),
    ("21106", "Car thefts fall < 3,000 & recovery rate hits 87%", "2017-01-09 11:20"),
    ("21790", "پلیس فتا نسبت به کلاهبرداری\u200cهای اینترنتی هشدار داد", "2017-04-18 13:05"),
    ("22348", "Rescue teams pull family of five from flooded car near Karaj", "2017-06-25 19:40"),
    ("23012", "Police academy graduates 600 new officers", "2017-09-05 09:10"),
    ("25177", "Police chief’s message to families: 'Check your heaters'", "2018-03-04 12:00"),
    ("27395", "دستگیری باند سارقان منازل در شمال تهران", "2018-08-14 18:25"),
    ("30288", "Police and fire services rehearse Nowruz emergency plan", "2019-03-07 09:05"),
    ("31046", "Counterfeit banknote ring dismantled in joint operation", "2019-05-19 14:50"),
    ("012_88f73c77e2c71d4e", "Emergency line 110 answered 4 million calls this year", "2019-12-01 00:00"),
    ("36471", "Officers deliver medicine to elderly residents during lockdown", "2020-04-12 15:35"),
    ("38820", "اجرای طرح ارتقای امنیت اجتماعی در محلات پایتخت", "2020-08-08 07:40"),
    ("40157", "Drones & thermal cameras help find missing hiker in Alborz mountains", "2021-02-27 17:15"),
    ("41932", "Regional meeting discusses “dark web” drug markets", "2021-07-16 10:05"),
    ("47258", "Smart speed cameras installed on 40 intercity roads", "2022-09-03 20:30"),
    ("51604", "Police say \"zero tolerance\" for street drifting", "2023-06-21 11:45"),
    ("55013", "Missing child reunited with parents within three hours", "2024-01-15 08:50"),
    ("58761", "Anti-fraud unit returns 85 billion rials to bank customers", "2024-10-08 13:30"),
    # Markdown articles (the draft 024_draft-station-opening.md is never published).
    ("winter-driving-2024", "Winter driving: ten checks before a mountain trip", "2024-12-02 09:15"),
    ("022_cyber-police-phishing-warning", "Cyber police warn of fake “subsidy” text messages", "2025-02-11 18:40"),
    ("023_traffic-plan-new-year", "طرح ترافیکی نوروز از ۲۵ اسفند آغاز می\u200cشود", "2025-03-10 11:00"),
]

# The tricky corpus (tests/interop/corpus/): 11 files, 9 items, 1 rejected
# (zz_rejected_no_date.txt), dup_2.txt loses to dup_1.txt (Show Count 150 < 2045).
CORPUS = [
    # Persian, ZWNJ (U+200C) inside پلیس‌های; summer 2019: +04:30.
    ("90101", "کشف ۳ تن مواد مخدر در عملیات مشترک پلیس\u200cهای مرزی", "2019-07-23 16:30"),
    ("90102", "Speeding fines & towing < 2% of cases, chief says \"rules > fines\" & it's 'final'", "2021-05-30 09:45"),
    # U+0007, U+001B and U+000C removed from the title (not replaced).
    ("90103", "Smuggling ring broken up at Bandar Abbas port", "2020-02-18 11:00"),
    ("90104", "Snowfall closes Chalus road for six hours", "2017-01-15 07:50"),
    # No footer: id is the file stem, time is the date line at 00:00, a time Tehran skipped.
    ("005_no_footer", "Nowruz traffic plan enters its second day", "2022-03-22 00:00"),
    # 23:30 happened twice that night; the first (+04:30) is expected.
    ("90106", "Late-night checkpoint finds stolen motorcycle", "2021-09-21 23:30"),
    # The scrape with the higher Show Count (dup_1.txt) wins, with its corrected title.
    ("90107", "Metro police arrest pickpocketing gang", "2024-02-10 09:30"),
    ("90108", "Café owner’s “lost” wallet returned by officers", "2019-12-02 11:40"),
    ("90109", "Highway patrol reports quiet holiday weekend", "2021-06-17 21:10"),
]

# mutations/new_article.txt, added to a running server's articles folder by the suite.
NEW_ARTICLE = [
    ("90201", "Traffic police open new control centre in Qom", "2025-01-05 10:00"),
]

# The self-test's hand-made feeds (tests/interop/broken/control/ and its broken variants).
BROKEN = [
    ("1003", "Third item: Persian پلیس", "2024-02-10 09:30"),
    ("1002", "Second item & one < two", "2021-05-30 09:45"),
    ("1001", "First item", "2017-01-15 07:50"),
]

TABLES = {
    "seeds.tsv": SEEDS,
    "corpus.tsv": CORPUS,
    "new_article.tsv": NEW_ARTICLE,
    "../broken/expected.tsv": BROKEN,
}


def utc_unix(local: str) -> int:
    naive = datetime.strptime(local, "%Y-%m-%d %H:%M")
    return int(naive.replace(tzinfo=TEHRAN, fold=0).timestamp())


def render(rows) -> str:
    records = [(utc_unix(local), ident, title, local) for ident, title, local in rows]
    # Feed order: newest first, ties broken by id.
    records.sort(key=lambda r: (-r[0], r[1]))
    lines = ["#id\ttitle\tutc_unix\tlink\tlocal_time_asia_tehran"]
    for ts, ident, title, local in records:
        assert "\t" not in title and "\n" not in title
        lines.append("\t".join([ident, title, str(ts), LINK.replace("{id}", ident), local]))
    return "\n".join(lines) + "\n"


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for name, rows in TABLES.items():
        text = render(rows)
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale expected files (run make_expected.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
