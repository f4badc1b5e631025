"""JSON Feed checks with a reader no one on the team wrote: feedparser-rs (PyPI), which reads
RSS, Atom and JSON Feed with feedparser's API. Debian's feedparser 6.0 does not read JSON Feed.

Usage: jsonfeed.py same RSS_URL JSON_URL
  The JSON Feed has the fields JSON Feed 1.1 requires (version, title, items, each item's id
  and content_html or content_text), parses without error, and gives the same entries (ids,
  titles, links, UTC timestamps, in order) as the RSS feed.
Exit 0 when the check holds, 1 with a reason otherwise.
"""

import calendar
import json
import sys
import urllib.request
from xml.etree import ElementTree

import feedparser_rs


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def entries(parsed):
    out = []
    for e in parsed.entries:
        when = e.published_parsed or e.updated_parsed
        out.append((e.id, e.title, e.link, calendar.timegm(when) if when else None))
    return out


def check_same(rss_url, json_url):
    raw = fetch(json_url)
    doc = json.loads(raw)
    problems = []
    if doc.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append(f"version is {doc.get('version')!r}")
    if not isinstance(doc.get("title"), str) or not doc["title"]:
        problems.append("no title")
    items = doc.get("items")
    if not isinstance(items, list):
        problems.append("no items array")
        items = []
    for i, item in enumerate(items):
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(f"item {i} has no id")
        if "content_html" not in item and "content_text" not in item:
            problems.append(f"item {i} has neither content_html nor content_text")
    if problems:
        raise SystemExit("JSON Feed 1.1 required fields: " + "; ".join(problems))
    parsed_json = feedparser_rs.parse(raw)
    if parsed_json.bozo:
        raise SystemExit(f"feedparser-rs: bozo on {json_url}: {parsed_json.bozo_exception}")
    if not parsed_json.version.startswith("json"):
        raise SystemExit(f"feedparser-rs: {json_url} read as {parsed_json.version!r}, not JSON Feed")
    rss_raw = fetch(rss_url)
    parsed_rss = feedparser_rs.parse(rss_raw)
    got, want = entries(parsed_json), entries(parsed_rss)
    # feedparser-rs drops RSS item links that point at loopback addresses (where the suite
    # serves), but keeps JSON Feed ones; the RSS links are read with the XML parser instead.
    rss_links = [item.findtext("link") for item in ElementTree.fromstring(rss_raw).iter("item")]
    if len(rss_links) == len(want):
        want = [(i, t, link, ts) for (i, t, _, ts), link in zip(want, rss_links)]
    if not want:
        raise SystemExit(f"{rss_url} has no entries")
    if got != want:
        diff = [f"json {g}\n   rss {w}" for g, w in zip(got, want) if g != w][:5]
        raise SystemExit(f"JSON Feed and RSS differ ({len(got)} vs {len(want)} entries):\n" + "\n".join(diff))
    print(f"{len(got)} entries, the same in {json_url} and {rss_url}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "same":
        raise SystemExit(__doc__)
    check_same(sys.argv[2], sys.argv[3])
