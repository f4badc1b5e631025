#!/usr/bin/env python3
"""Checks of a static web server serving the output of `feedpub build`.

    crawl.py crawl BASE SITE [--loose-types]  every link found from / and the feeds answers 200,
                                              no redirect, a feed or HTML type; every page and
                                              feed file of SITE is reached
    crawl.py archive BASE SITE                walking prev-archive from rss.xml and atom.xml
                                              reaches every article of SITE
    crawl.py encodings BASE SITE              br and gzip answers are SITE's NAME.br / NAME.gz,
                                              which decompress to NAME
    crawl.py conditional BASE                 304 on the server's own ETag and Last-Modified
    crawl.py aliases BASE                     the old feed names answer 301 to the right place
    crawl.py private BASE                     feedpub's own files (dot-files, _headers) are 404
    crawl.py headers BASE                     Content-Type, Cache-Control and security headers
    crawl.py readers BASE COUNT               feedparser reads rss.xml and atom.xml: COUNT items

Python 3 standard library (and Debian's python3-feedparser for `readers`; the `brotli` command
for `encodings`). Exits 1 with one line per problem.
"""

import gzip
import html.parser
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import deque

ATOM = "{http://www.w3.org/2005/Atom}"
FEED_TYPES = {
    "application/rss+xml; charset=utf-8",
    "application/atom+xml; charset=utf-8",
    "application/feed+json; charset=utf-8",
    "text/html; charset=utf-8",
}
# A stock server maps .xml and .json by extension only.
LOOSE_TYPES = {"text/xml", "application/xml", "application/json", "text/html"}
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def get(url, headers=None):
    """(status, headers, body) of a GET that follows no redirect."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "href" and value:
                self.links.append(value)


def links_of(content_type, body):
    if content_type.startswith("text/html"):
        parser = Links()
        parser.feed(body.decode("utf-8"))
        return parser.links
    if "json" in content_type:
        doc = json.loads(body)
        found = [doc.get("home_page_url"), doc.get("feed_url"), doc.get("next_url")]
        found += [item.get("url") for item in doc.get("items", [])]
        return [f for f in found if f]
    root = ET.fromstring(body)
    found = []
    for element in root.iter():
        if element.tag == "link" and element.text and element.text.strip():
            found.append(element.text.strip())
        if element.tag in ("link", ATOM + "link") and element.get("href"):
            found.append(element.get("href"))
    return found


def site_files(site):
    """The page and feed files of SITE, as request paths (unquoted)."""
    paths = set()
    for folder, dirs, files in os.walk(site):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.endswith((".gz", ".br")):
                continue
            if name in ("_headers", "_redirects"):
                continue
            relative = os.path.relpath(os.path.join(folder, name), site).replace(os.sep, "/")
            paths.add("/" if relative == "index.html" else "/" + relative)
    return paths


def crawl(base, site, loose=False):
    origin = urllib.parse.urlsplit(base)
    allowed = FEED_TYPES | (LOOSE_TYPES if loose else set())
    problems, reached = [], set()
    queue = deque((base + p, "(start)") for p in ("/", "/rss.xml", "/atom.xml", "/feed.json"))
    seen = {u for u, _ in queue}
    while queue:
        url, source = queue.popleft()
        status, headers, body = get(url)
        if status != 200:
            problems.append(f"{url} (from {source}): {status} {headers.get('Location', '')}")
            continue
        content_type = headers.get("Content-Type", "")
        if content_type not in allowed and content_type.split(";")[0] not in allowed:
            problems.append(f"{url} (from {source}): Content-Type {content_type!r}")
            continue
        reached.add(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
        try:
            found = links_of(content_type, body)
        except Exception as e:  # noqa: BLE001 - reported as a problem
            problems.append(f"{url}: unreadable {content_type}: {e}")
            continue
        for link in found:
            target = urllib.parse.urljoin(url, link)
            parts = urllib.parse.urlsplit(target)
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                continue
            target = urllib.parse.urlunsplit(parts._replace(fragment=""))
            if target not in seen:
                seen.add(target)
                queue.append((target, url))
    unreached = site_files(site) - reached
    if unreached:
        problems.append(f"files no link reaches: {sorted(unreached)}")
    print(f"reached {len(reached)} URLs of {len(site_files(site))} files")
    return problems


def archive(base, site):
    problems = []
    articles = len([n for n in os.listdir(os.path.join(site, "articles")) if n.endswith(".html")])
    for feed in ("rss.xml", "atom.xml"):
        ids, url, pages = set(), f"{base}/{feed}", 0
        while url:
            status, _, body = get(url)
            if status != 200:
                problems.append(f"{url}: {status}")
                break
            pages += 1
            root = ET.fromstring(body)
            url = None
            for element in root.iter():
                if element.tag == "guid" or (element.tag == ATOM + "id" and element.text):
                    ids.add(element.text.strip())
                if element.tag in ("link", ATOM + "link") and element.get("rel") == "prev-archive":
                    url = element.get("href")
        # The Atom feed's own id is among the ids.
        count = len(ids) - (1 if feed == "atom.xml" else 0)
        print(f"{feed}: {pages} documents, {count} distinct items, {articles} article pages")
        if count != articles:
            problems.append(f"{feed}: the archive walk found {count} items, the site has {articles}")
    return problems


def decompress(coding, data):
    if coding == "gzip":
        return gzip.decompress(data)
    return subprocess.run(["brotli", "-d", "-c"], input=data, capture_output=True, check=True).stdout


def encodings(base, site):
    problems = []
    article = sorted(n for n in os.listdir(os.path.join(site, "articles")) if n.endswith(".html"))[0]
    for path, file in (("/rss.xml", "rss.xml"), ("/atom.xml", "atom.xml"), ("/feed.json", "feed.json"),
                       ("/", "index.html"), ("/articles/" + urllib.parse.quote(article), "articles/" + article)):
        plain = open(os.path.join(site, file), "rb").read()
        for coding, suffix in (("br", "br"), ("gzip", "gz")):
            status, headers, body = get(base + path, {"Accept-Encoding": coding})
            on_disk = open(os.path.join(site, f"{file}.{suffix}"), "rb").read()
            if status != 200 or headers.get("Content-Encoding") != coding:
                problems.append(f"{path} {coding}: {status}, Content-Encoding {headers.get('Content-Encoding')}")
            elif body != on_disk:
                problems.append(f"{path} {coding}: not the bytes of {file}.{suffix}")
            elif decompress(coding, body) != plain:
                problems.append(f"{path} {coding}: does not decompress to {file}")
            else:
                print(f"{path} {coding}: {len(body)} bytes = {file}.{suffix} -> {len(plain)} bytes")
    return problems


def conditional(base):
    problems = []
    for path in ("/rss.xml", "/"):
        for encoding in ("identity", "gzip"):
            status, headers, _ = get(base + path, {"Accept-Encoding": encoding})
            etag, modified = headers.get("ETag"), headers.get("Last-Modified")
            if status != 200 or not etag or not modified:
                problems.append(f"{path} ({encoding}): {status}, ETag {etag}, Last-Modified {modified}")
                continue
            for name, value in (("If-None-Match", etag), ("If-Modified-Since", modified)):
                again, _, body = get(base + path, {name: value, "Accept-Encoding": encoding})
                if again != 304 or body:
                    problems.append(f"{path} ({encoding}) {name}: {value}: {again}, {len(body)} bytes")
                else:
                    print(f"{path} ({encoding}) {name}: 304")
    return problems


ALIASES = [("/index.html", "/"), ("/rss", "/rss.xml"), ("/feed", "/rss.xml"), ("/feed/", "/rss.xml"),
           ("/rss/", "/rss.xml"), ("/feed.xml", "/rss.xml"), ("/atom", "/atom.xml"), ("/atom/", "/atom.xml")]


def aliases(base):
    problems = []
    for source, target in ALIASES:
        status, headers, _ = get(base + source)
        location = urllib.parse.urljoin(base + source, headers.get("Location", ""))
        if status != 301 or location != base + target:
            problems.append(f"{source}: {status} to {location}, not 301 to {base + target}")
    return problems


def private(base):
    problems = []
    for path in ("/.feedpub-manifest", "/_headers", "/_redirects", "/articles/.x.html.abc.tmp"):
        status, _, _ = get(base + path)
        if status != 404:
            problems.append(f"{path}: {status}, not 404")
    return problems


def headers(base):
    problems = []
    first_article = None
    status, _, body = get(base + "/")
    for link in links_of("text/html", body):
        if "/articles/" in link:
            first_article = urllib.parse.urlsplit(link).path
            break
    cases = [
        ("/rss.xml", "application/rss+xml; charset=utf-8", "public, max-age=300", False),
        ("/atom.xml", "application/atom+xml; charset=utf-8", "public, max-age=300", False),
        ("/feed.json", "application/feed+json; charset=utf-8", "public, max-age=300", False),
        ("/archive/rss/1.xml", "application/rss+xml; charset=utf-8", "public, max-age=86400", False),
        ("/archive/atom/1.xml", "application/atom+xml; charset=utf-8", "public, max-age=86400", False),
        ("/archive/1.html", "text/html; charset=utf-8", "public, max-age=86400", True),
        ("/", "text/html; charset=utf-8", "public, max-age=300", True),
        (first_article, "text/html; charset=utf-8", "public, max-age=300", True),
    ]
    for path, content_type, cache, page in cases:
        status, h, _ = get(base + path)
        want = {"Content-Type": content_type, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
        if page:
            want["Content-Security-Policy"] = CSP
            want["Referrer-Policy"] = "no-referrer"
        for name, value in want.items():
            if h.get_all(name) != [value]:
                problems.append(f"{path}: {name} is {h.get_all(name)}, not [{value!r}]")
        if status != 200:
            problems.append(f"{path}: {status}")
    return problems


def readers(base, count):
    import feedparser

    problems = []
    for feed in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse(f"{base}/{feed}")
        if parsed.bozo:
            problems.append(f"{feed}: {parsed.bozo_exception}")
        if len(parsed.entries) != count:
            problems.append(f"{feed}: {len(parsed.entries)} entries, not {count}")
        print(f"{feed}: status {parsed.get('status')}, {len(parsed.entries)} entries")
    return problems


def main(argv):
    command, base = argv[1], argv[2].rstrip("/")
    rest = argv[3:]
    if command == "crawl":
        problems = crawl(base, rest[0], loose="--loose-types" in rest)
    elif command == "archive":
        problems = archive(base, rest[0])
    elif command == "encodings":
        problems = encodings(base, rest[0])
    elif command == "readers":
        problems = readers(base, int(rest[0]))
    else:
        problems = {"conditional": conditional, "aliases": aliases, "private": private,
                    "headers": headers}[command](base)
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
