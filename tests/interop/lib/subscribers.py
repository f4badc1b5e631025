#!/usr/bin/python3
"""Checks of what every subscriber sees, for tests/interop/subscribers.sh.

Each subcommand reads a feed, a page or a Chromium DOM dump and exits 1 with a reason when
the check fails: feedparser's view of entry languages and of moved and retired feeds, the
OPML list and what newsboat imported from it, and the figures a browser page on another
origin measured (computed text direction, ETags read across origins).
"""

import argparse
import json
import re
import sqlite3
import sys
import xml.etree.ElementTree as ET

import feedparser

ARABIC = re.compile("[\u0600-\u06ff]")


class Fail(Exception):
    pass


def is_persian(text):
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(ARABIC.match(c)) for c in letters) * 2 > len(letters)


def parse(url):
    d = feedparser.parse(url)
    if d.bozo:
        raise Fail(f"{url}: bozo: {d.bozo_exception!r}")
    if not d.entries:
        raise Fail(f"{url}: no entries")
    return d


def cmd_fp_lang(a):
    """Every entry's content carries its language as feedparser reports it; the summary a
    text-preferring reader shows is the whole article."""
    d = parse(a.url)
    persian = 0
    for e in d.entries:
        content = e.get("content") or []
        if len(content) != 1:
            raise Fail(f"{e.id}: {len(content)} content elements")
        want = "fa" if is_persian(e.title) else a.site
        got = content[0].get("language")
        if got != want:
            raise Fail(f"{e.id} ({e.title!r}): content language {got!r}, want {want!r}")
        persian += want == "fa"
        # feedparser gives a summary-less entry its content as summary: a reader that prefers
        # the summary (text) still shows the whole article.
        if e.get("summary") != content[0].value:
            raise Fail(f"{e.id}: the summary is not the whole content: {e.get('summary')!r:.80}")
        if content[0].type != "text/html":
            raise Fail(f"{e.id}: content type {content[0].type}")
    if persian < a.min_persian:
        raise Fail(f"only {persian} Persian entries (want at least {a.min_persian})")
    print(f"{len(d.entries)} entries, {persian} Persian, each with its language", file=sys.stderr)


def cmd_fp_language_feed(a):
    """A language's feed: valid for feedparser, its own language, only entries in it."""
    d = parse(a.url)
    if d.feed.get("language") != a.code and d.feed.get("language") is not None:
        raise Fail(f"feed language {d.feed.get('language')!r}, want {a.code!r}")
    for e in d.entries:
        persian = is_persian(e.title)
        if persian != (a.code == "fa"):
            raise Fail(f"{e.id} ({e.title!r}) is not in {a.code}")
        content = e.get("content") or [{}]
        lang = content[0].get("language")
        if lang not in (None, a.code):
            raise Fail(f"{e.id}: content language {lang!r} in the {a.code} feed")
    print(f"{len(d.entries)} entries, all in {a.code}", file=sys.stderr)


def cmd_fp_moved(a):
    """feedparser follows the redirect, reports 301 and the new address, and reads the feed."""
    d = feedparser.parse(a.url)
    if d.get("status") != 301:
        raise Fail(f"status {d.get('status')!r}, want 301")
    if d.get("href") != a.to:
        raise Fail(f"href {d.get('href')!r}, want {a.to!r}")
    if d.bozo or not d.entries:
        raise Fail(f"after the redirect: bozo {d.bozo}, {len(d.entries)} entries")
    print(f"301 -> {d.href}, {len(d.entries)} entries", file=sys.stderr)


def cmd_fp_gone(a):
    """feedparser reports 410 for a retired feed, which tells a reader to drop it."""
    d = feedparser.parse(a.url)
    if d.get("status") != 410:
        raise Fail(f"status {d.get('status')!r}, want 410")
    if d.entries:
        raise Fail("entries in a retired feed")


def opml_urls(path):
    root = ET.parse(path).getroot()
    if root.tag != "opml" or root.get("version") != "2.0":
        raise Fail(f"root {root.tag} version {root.get('version')}")
    urls = []
    for o in root.iter("outline"):
        for attr in ("type", "text", "title", "xmlUrl", "htmlUrl"):
            if not o.get(attr):
                raise Fail(f"outline without {attr}: {o.attrib}")
        if o.get("type") != "rss":
            raise Fail(f"outline type {o.get('type')}")
        urls.append(o.get("xmlUrl"))
    if len(set(urls)) != len(urls):
        raise Fail(f"a feed listed twice: {urls}")
    return urls


def cmd_opml(a):
    """The OPML list names the main feed, every language's and every tag's, once each."""
    urls = opml_urls(a.file)
    for want in a.want:
        if want not in urls:
            raise Fail(f"{want} not in the OPML list {urls}")
    print("\n".join(urls), file=sys.stderr)


def cmd_newsboat_opml(a):
    """newsboat imported every feed of the OPML list, and its reload read each of them."""
    urls = opml_urls(a.opml)
    with open(a.urls, encoding="utf-8") as f:
        imported = [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
    missing = [u for u in urls if u not in imported]
    if missing or len(imported) != len(urls):
        raise Fail(f"imported {imported}, the list has {urls}")
    db = sqlite3.connect(a.cache)
    # newsboat keeps an item once, under the first feed that brought it: the feeds of one
    # site share their items, so each feed is checked to have been fetched and read (its
    # channel title is stored), and the items to be the site's, each once.
    titles = dict(db.execute("SELECT rssurl, title FROM rss_feed").fetchall())
    for url in urls:
        if not titles.get(url):
            raise Fail(f"{url}: not fetched and read by the reload (title {titles.get(url)!r})")
        print(f"{url}: {titles[url]}", file=sys.stderr)
    main_feed = feedparser.parse(urls[0])
    guids = {g for (g,) in db.execute("SELECT guid FROM rss_item")}
    missing = [e.id for e in main_feed.entries if e.id not in guids]
    if missing or not guids:
        raise Fail(f"items of {urls[0]} missing from the cache: {missing}")
    print(f"{len(guids)} items, every one of {urls[0]} among them", file=sys.stderr)


def cmd_browser(a):
    """The figures the harness page measured in Chromium (left in <pre id="result">)."""
    with open(a.file, encoding="utf-8") as f:
        dom = f.read()
    m = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    if not m:
        raise Fail("no result element in the DOM")
    text = m.group(1).replace("&quot;", '"').replace("&amp;", "&")
    try:
        r = json.loads(text)
    except ValueError:
        raise Fail(f"the page did not finish: {text[:300]}")
    print(json.dumps(r, ensure_ascii=False, indent=1), file=sys.stderr)
    if a.what == "cors":
        if r["status1"] != 200 or not r["etag1"]:
            raise Fail(f"first fetch: {r['status1']}, ETag {r['etag1']!r}")
        if r["status2"] != 304 or r["etag2"] != r["etag1"]:
            raise Fail(f"conditional fetch: {r['status2']}, ETag {r['etag2']!r}")
    else:
        entries = r["entries"]
        rtl = [d for lang, d in entries if lang == "fa"]
        ltr = [d for lang, d in entries if lang != "fa"]
        if not rtl or set(rtl) != {"rtl"}:
            raise Fail(f"Persian entries' paragraphs: {rtl}")
        if not ltr or set(ltr) != {"ltr"}:
            raise Fail(f"other entries' paragraphs: {ltr}")
        if not r["page_fa"] or set(r["page_fa"]) != {"rtl"}:
            raise Fail(f"Persian article page paragraphs: {r['page_fa']}")
        if not r["page_en"] or set(r["page_en"]) != {"ltr"}:
            raise Fail(f"English article page paragraphs: {r['page_en']}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(required=True)
    s = sub.add_parser("fp-lang")
    s.add_argument("url")
    s.add_argument("--site", default="en")
    s.add_argument("--min-persian", type=int, default=1)
    s.set_defaults(func=cmd_fp_lang)
    s = sub.add_parser("fp-language-feed")
    s.add_argument("url")
    s.add_argument("code")
    s.set_defaults(func=cmd_fp_language_feed)
    s = sub.add_parser("fp-moved")
    s.add_argument("url")
    s.add_argument("to")
    s.set_defaults(func=cmd_fp_moved)
    s = sub.add_parser("fp-gone")
    s.add_argument("url")
    s.set_defaults(func=cmd_fp_gone)
    s = sub.add_parser("opml")
    s.add_argument("file")
    s.add_argument("want", nargs="+")
    s.set_defaults(func=cmd_opml)
    s = sub.add_parser("newsboat-opml")
    s.add_argument("opml")
    s.add_argument("urls")
    s.add_argument("cache")
    s.set_defaults(func=cmd_newsboat_opml)
    s = sub.add_parser("browser")
    s.add_argument("what", choices=["cors", "direction"])
    s.add_argument("file")
    s.set_defaults(func=cmd_browser)
    a = p.parse_args()
    try:
        a.func(a)
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
