#!/usr/bin/python3
"""Edits an article file in place the way a new scrape would, keeping its line endings.

    mutate.py body FILE TEXT   add the paragraph TEXT just before the footer (the body changes)
    mutate.py views FILE       add 1000 to the footer's Show Count (nothing published changes)

The file is written to a temporary name and renamed over the old one, as a scraper should.
"""

import os
import re
import sys


def rewrite(path, data):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    what, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        data = f.read()
    eol = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(eol)
    last = max(i for i, line in enumerate(lines) if line.strip())
    footer = lines[last]
    if not re.search(rb"number\s*:", footer, re.I):
        sys.exit(f"{path}: the last line is not a footer: {footer!r}")
    if what == "body":
        text = sys.argv[3].encode("utf-8")
        lines[last:last] = [text, b""]
    elif what == "views":
        new, n = re.subn(
            rb"(show\s*count\s*:\s*)(\d+)",
            lambda m: m.group(1) + str(int(m.group(2)) + 1000).encode(),
            footer,
            flags=re.I,
        )
        if n != 1:
            sys.exit(f"{path}: no Show Count in the footer")
        lines[last] = new
    else:
        sys.exit(f"unknown mutation {what!r}")
    rewrite(path, eol.join(lines))


if __name__ == "__main__":
    main()
