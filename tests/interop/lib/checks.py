#!/usr/bin/python3
"""The interop suite's comparisons. Run with Debian's /usr/bin/python3 (python3-feedparser).

Every subcommand checks one thing, prints why it failed (on stderr) and exits 0 (pass) or 1
(fail). The same subcommands run against feedpub and against the deliberately broken feeds
of tests/interop/broken/, so each of them is shown to be able to fail.

Expected data comes from an expected .tsv (see expected/make_expected.py): id, title,
utc_unix, link, local time. An item's guid is ID_PREFIX + id; `{base_url}` in a link is
replaced by BASE.
"""

import argparse
import calendar
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter

ATOM = "{http://www.w3.org/2005/Atom}"


class Fail(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# expected data


def read_expected(paths, base, prefix):
    """Rows of one or more expected .tsv files as dicts, in feed order (newest first)."""
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                ident, title, ts, link = line.split("\t")[:4]
                rows.append(
                    {
                        "guid": prefix + ident,
                        "title": title,
                        "ts": int(ts),
                        "link": link.replace("{base_url}", base),
                    }
                )
    rows.sort(key=lambda r: (-r["ts"], r["guid"]))
    return rows


def compare(what, got, want):
    """Compares two lists of item dicts on the keys of `want`; raises Fail with a diff."""
    problems = []
    guids = Counter(g.get("guid") for g in got)
    dups = sorted(g for g, n in guids.items() if n > 1)
    if dups:
        problems.append(f"duplicate guid(s): {dups}")
    if len(got) != len(want):
        problems.append(f"{len(got)} item(s), expected {len(want)}")
    keys = list(want[0].keys()) if want else ["guid"]
    got_by = {g.get("guid"): g for g in got}
    want_by = {w["guid"]: w for w in want}
    for guid in sorted(set(want_by) - set(got_by)):
        problems.append(f"missing item {guid} ({want_by[guid]['title']!r})")
    for guid in sorted(set(got_by) - set(want_by), key=str):
        problems.append(f"unexpected item {guid!r} ({got_by[guid].get('title')!r})")
    for guid in sorted(set(want_by) & set(got_by)):
        for k in keys:
            if got_by[guid].get(k) != want_by[guid][k]:
                problems.append(
                    f"{guid}: {k} is {got_by[guid].get(k)!r}, expected {want_by[guid][k]!r}"
                )
    if problems:
        raise Fail(f"{what}:\n  " + "\n  ".join(problems[:25]))


# ---------------------------------------------------------------------------------------------
# feedparser


def fp_items(feed):
    items = []
    for e in feed.entries:
        published = e.get("published_parsed") or e.get("updated_parsed")
        items.append(
            {
                "guid": e.get("id"),
                "title": e.get("title"),
                "ts": calendar.timegm(published) if published else None,
                "link": e.get("link"),
            }
        )
    return items


def parse(url, **kw):
    import feedparser

    return feedparser.parse(url, agent="feedpub-interop/feedparser", **kw)


def charset_override(d):
    """The only bozo of an XML feed served as text/xml without a charset: RFC 3023 makes that
    us-ascii, above the document's own encoding="utf-8", and feedparser says so."""
    import feedparser

    return isinstance(d.get("bozo_exception"), feedparser.CharacterEncodingOverride)


def cmd_fp_feed(a):
    """bozo == 0 and exactly the expected entries (ids, links, titles, dates), in order."""
    want = read_expected(a.expected, a.base, a.prefix)
    d = parse(a.url)
    if d.get("status") != 200:
        raise Fail(f"{a.url}: HTTP status {d.get('status')}, expected 200")
    if d.bozo and not (a.allow_charset_override and charset_override(d)):
        raise Fail(f"{a.url}: bozo=1: {d.get('bozo_exception')!r}")
    if d.bozo:
        print(f"{a.url}: allowed: {d.get('bozo_exception')!r} (Content-Type {d.headers.get('content-type')!r})")
    got = fp_items(d)
    compare(f"{a.url} ({d.version})", got, want)
    if [g["guid"] for g in got] != [w["guid"] for w in want]:
        raise Fail(f"{a.url}: items not newest first: {[g['guid'] for g in got]}")


def cmd_fp_same(a):
    """The RSS and the Atom feed give feedparser the same entries."""
    rss, atom = parse(a.rss), parse(a.atom)
    r, t = fp_items(rss), fp_items(atom)
    if r != t:
        diff = [f"rss {x}\n  atom {y}" for x, y in zip(r, t) if x != y][:10]
        raise Fail(
            f"RSS and Atom differ ({len(r)} vs {len(t)} entries):\n  " + "\n  ".join(diff)
        )
    if not r:
        raise Fail("both feeds are empty")


def cmd_fp_304(a):
    """A second fetch with the first one's ETag and Last-Modified gets 304 Not Modified."""
    first = parse(a.url)
    if first.get("status") != 200:
        raise Fail(f"first fetch: status {first.get('status')}, expected 200")
    etag, modified = first.get("etag"), first.get("modified")
    if not etag and not modified:
        raise Fail("first fetch has neither ETag nor Last-Modified")
    second = parse(a.url, etag=etag, modified=modified)
    if second.get("status") != 304:
        raise Fail(
            f"conditional fetch (etag={etag!r}, modified={modified!r}): status "
            f"{second.get('status')}, expected 304"
        )
    if second.entries:
        raise Fail("304 answer came with entries")


# ---------------------------------------------------------------------------------------------
# sfeed


def sfeed_unescape(field):
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], field)


def cmd_sfeed(a):
    """sfeed's TSV (timestamp, title, link, content, type, id, ...) has the expected items."""
    want = read_expected(a.expected, a.base, a.prefix)
    got = []
    with open(a.tsv, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            fields += [""] * (9 - len(fields))
            got.append(
                {
                    "guid": sfeed_unescape(fields[5]),
                    "title": sfeed_unescape(fields[1]),
                    "ts": int(fields[0]) if fields[0].strip() else None,
                    "link": sfeed_unescape(fields[2]),
                }
            )
    compare(a.tsv, got, want)


# ---------------------------------------------------------------------------------------------
# dates carry a zone

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|[+-]\d{2}:\d{2})$"
)
# RFC 822 / 2822 date-time; the zone is mandatory.
RFC822 = re.compile(
    r"^(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{2,4} \d{2}:\d{2}(?::\d{2})? "
    r"(?:[+-]\d{4}|UT|GMT|Z|[ECMP][SD]T|[A-IK-Za-ik-z])$"
)


def cmd_zones(a):
    """Every Atom updated/published and RSS pubDate/lastBuildDate is a date with a zone."""
    root = ET.parse(a.file).getroot()
    checked, bad = 0, []
    if root.tag == ATOM + "feed":
        for name in ("updated", "published"):
            for el in root.iterfind(f".//{ATOM}{name}"):
                checked += 1
                if not RFC3339.match((el.text or "").strip()):
                    bad.append(f"atom:{name} {el.text!r}")
        entries = root.findall(f"{ATOM}entry")
        need = 1 + len(entries)  # the feed's updated and each entry's updated
    elif root.tag == "rss":
        for name in ("pubDate", "lastBuildDate"):
            for el in root.iterfind(f".//{name}"):
                checked += 1
                if not RFC822.match((el.text or "").strip()):
                    bad.append(f"{name} {el.text!r}")
        need = len(root.findall("./channel/item"))
    else:
        raise Fail(f"{a.file}: neither an Atom feed nor RSS: <{root.tag}>")
    if bad:
        raise Fail(f"{a.file}: date(s) without a zone or malformed:\n  " + "\n  ".join(bad[:20]))
    if checked < need or checked == 0:
        raise Fail(f"{a.file}: only {checked} date element(s), expected at least {max(need, 1)}")
    print(f"{checked} dates with a zone", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# newsboat's cache, exported by the sqlite3 command line tool as JSON


def load_json_rows(path):
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    return json.loads(text) if text else []


def newsboat_items(path, feeds):
    return [
        {"guid": i["guid"], "title": i["title"], "ts": i["pubDate"], "link": i["url"],
         "feedurl": i["feedurl"], "content": i.get("content", "")}
        for i in load_json_rows(path)
        if i["feedurl"] in feeds and not i.get("deleted")
    ]


def cmd_newsboat(a):
    """newsboat's cache holds each subscribed feed and exactly the expected items.

    --merged: the feeds are compared together. newsboat keys items by guid across the whole
    cache, so when the RSS and the Atom feed (which share guids, as they should) are both
    subscribed, each item is stored once, under the feed reloaded last.
    """
    want = read_expected(a.expected, a.base, a.prefix)
    feeds = {r["rssurl"]: r for r in load_json_rows(a.feeds_json)}
    missing = [url for url in a.feed if url not in feeds]
    if missing:
        raise Fail(f"feed(s) {missing} not in newsboat's rss_feed table (has: {sorted(feeds)})")
    groups = [a.feed] if a.merged else [[url] for url in a.feed]
    for urls in groups:
        got = newsboat_items(a.items_json, set(urls))
        compare(f"newsboat items of {' + '.join(urls)}", [
            {k: g[k] for k in ("guid", "title", "ts", "link")} for g in got], want)
    print(f"{len(a.feed)} feed(s), {len(want)} item(s)", file=sys.stderr)


def cmd_newsboat_delta(a):
    """Between two exports of a cache, each feed gained exactly the item --new, lost none."""
    problems = []
    for url in a.feed:
        before = {i["guid"] for i in newsboat_items(a.before, {url})}
        after = [i["guid"] for i in newsboat_items(a.after, {url})]
        added = sorted(set(after) - before)
        lost = sorted(before - set(after))
        dups = sorted(g for g, n in Counter(after).items() if n > 1)
        if added != [a.new] or lost or dups:
            problems.append(f"{url}: added {added}, lost {lost}, duplicates {dups} "
                            f"(expected exactly one new item {a.new})")
    if problems:
        raise Fail("\n  ".join(problems))


def cmd_newsboat_content(a):
    """Every copy of item --guid in the cache has content containing --text."""
    items = [i for i in newsboat_items(a.items_json, set(a.feed)) if i["guid"] == a.guid]
    if not items:
        raise Fail(f"no item {a.guid}")
    stale = [i["feedurl"] for i in items if a.text not in i["content"]]
    if stale:
        raise Fail(f"item {a.guid} in {stale} does not contain {a.text!r}")


# ---------------------------------------------------------------------------------------------
# Chromium's output


def cmd_png(a):
    """A PNG of the given size that is not blank (more than a few distinct pixel rows)."""
    import struct
    import zlib

    with open(a.file, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Fail(f"{a.file}: not a PNG ({len(data)} bytes)")
    width, height = struct.unpack(">II", data[16:24])
    if (width, height) != (a.width, a.height):
        raise Fail(f"{a.file}: {width}x{height}, expected {a.width}x{a.height}")
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = len(raw) // height
    rows = {raw[i * stride:(i + 1) * stride] for i in range(height)}
    if len(rows) < a.min_rows:
        raise Fail(f"{a.file}: only {len(rows)} distinct pixel rows: a blank page?")
    print(f"{width}x{height}, {len(data)} bytes, {len(rows)} distinct rows", file=sys.stderr)


def html_open_tag(dom):
    # The first <html ...> start tag outside comments.
    dom = re.sub(r"<!--.*?-->", "", dom, flags=re.S)
    m = re.search(r"<html\b[^>]*>", dom, re.I)
    if not m:
        raise Fail("no <html> element in the DOM")
    return m.group(0)


def cmd_dom_autodiscovery(a):
    """The DOM links both feeds: <link rel="alternate" type="application/rss+xml"> and atom."""
    with open(a.file, encoding="utf-8") as f:
        dom = f.read()
    missing = [
        t for t in ("application/rss+xml", "application/atom+xml")
        if f'<link rel="alternate" type="{t}"' not in dom
    ]
    if missing:
        raise Fail(f"{a.file}: no autodiscovery link for {missing}")
    hrefs = re.findall(r'<link rel="alternate" type="application/(?:rss|atom)\+xml"[^>]*href="([^"]+)"', dom)
    print(f"autodiscovery: {hrefs}", file=sys.stderr)


def cmd_dom_rtl(a):
    """The <html> element of a Persian page has lang="fa" and a dir attribute."""
    with open(a.file, encoding="utf-8") as f:
        tag = html_open_tag(f.read())
    if 'lang="fa"' not in tag or not re.search(r"\sdir=", tag):
        raise Fail(f"<html> element is {tag!r}: expected lang=\"fa\" and dir=")
    print(tag, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# small helpers for run.sh


def cmd_count(a):
    """Prints how many items the expected files list."""
    print(len(read_expected(a.expected, "", "")))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def expected_args(s):
        s.add_argument("--expected", action="append", required=True)
        s.add_argument("--base", required=True)
        s.add_argument("--prefix", required=True)

    s = sub.add_parser("fp-feed")
    s.add_argument("url")
    s.add_argument("--allow-charset-override", action="store_true")
    expected_args(s)
    s.set_defaults(func=cmd_fp_feed)
    s = sub.add_parser("fp-same")
    s.add_argument("rss")
    s.add_argument("atom")
    s.set_defaults(func=cmd_fp_same)
    s = sub.add_parser("fp-304")
    s.add_argument("url")
    s.set_defaults(func=cmd_fp_304)
    s = sub.add_parser("sfeed")
    s.add_argument("tsv")
    expected_args(s)
    s.set_defaults(func=cmd_sfeed)
    s = sub.add_parser("zones")
    s.add_argument("file")
    s.set_defaults(func=cmd_zones)
    s = sub.add_parser("newsboat")
    s.add_argument("--feeds-json", required=True)
    s.add_argument("--items-json", required=True)
    s.add_argument("--feed", action="append", required=True)
    s.add_argument("--merged", action="store_true")
    expected_args(s)
    s.set_defaults(func=cmd_newsboat)
    s = sub.add_parser("newsboat-delta")
    s.add_argument("--before", required=True)
    s.add_argument("--after", required=True)
    s.add_argument("--feed", action="append", required=True)
    s.add_argument("--new", required=True)
    s.set_defaults(func=cmd_newsboat_delta)
    s = sub.add_parser("newsboat-content")
    s.add_argument("--items-json", required=True)
    s.add_argument("--feed", action="append", required=True)
    s.add_argument("--guid", required=True)
    s.add_argument("--text", required=True)
    s.set_defaults(func=cmd_newsboat_content)
    s = sub.add_parser("png")
    s.add_argument("file")
    s.add_argument("--width", type=int, default=1024)
    s.add_argument("--height", type=int, default=768)
    s.add_argument("--min-rows", type=int, default=20)
    s.set_defaults(func=cmd_png)
    s = sub.add_parser("dom-autodiscovery")
    s.add_argument("file")
    s.set_defaults(func=cmd_dom_autodiscovery)
    s = sub.add_parser("dom-rtl")
    s.add_argument("file")
    s.set_defaults(func=cmd_dom_rtl)
    s = sub.add_parser("count")
    s.add_argument("--expected", action="append", required=True)
    s.set_defaults(func=cmd_count)

    a = p.parse_args()
    try:
        a.func(a)
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a crash of the check is a failure, shown in full
        import traceback

        traceback.print_exc()
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
