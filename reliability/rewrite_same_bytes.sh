#!/usr/bin/env bash
# What the soak's stateful readers met as items without text (defect 22 of RELIABILITY.md,
# fixed): an article saved again in place with the bytes it already had (a scraper or an
# editor that truncates the file, then writes), while another change (here a new article)
# makes `serve` render the feed again. The render reads the truncated file, finds it changed
# since it was loaded and publishes the item without its text. Before the fix the file then
# held its old bytes again, the loader found nothing new and the feed was never rendered
# again; now the loader reads such a file again and the item gets its text back.
#
#   reliability/rewrite_same_bytes.sh [--no-build] [--keep]
#
# Exits 1 when the article is still without text in /rss.xml, /atom.xml or /feed.json
# 35 s (past `rescan_interval_secs`) and a SIGHUP after the rewrite; 0 when it has it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"
COMMON_OPTIONS="--no-build --keep"
parse_options "$@"
CARGO_FLAGS=(--quiet)
build_release
work_folder same-bytes
BIN=$(private_copy "$FEEDPUB" feedpub)

mkdir -p "$WORK/articles"
article() {
  printf 'Print  Send to Friend\n\n1 June 2019\n\nStory %s\n\nBody of story %s, a paragraph.\n\n10:%02d - 2019/06/01 / number : %s / Show Count : 5\n' \
    "$1" "$1" "$1" "$((700 + $1))"
}
for i in 1 2 3; do article "$i" >"$WORK/articles/a$i.txt"; done
PORT=$(free_ports 1)
cat >"$WORK/feedpub.toml" <<TOML
articles = "articles"
output = "feeds"
addr = "127.0.0.1:$PORT"
stats = false
TOML
(cd "$WORK" && RUST_LOG=warn exec "$BIN" serve --config feedpub.toml >serve.out 2>serve.log) &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_http200 "http://127.0.0.1:$PORT/rss.xml" 10 "$SERVER_PID" "$WORK/serve.log"

# without_text PATH...: the titles of the items without text in each feed.
without_text() {
  local path
  for path in "$@"; do
    curl -s "http://127.0.0.1:$PORT$path" | python3 -c '
import json, sys, xml.etree.ElementTree as ET
A, C = "{http://www.w3.org/2005/Atom}", "{http://purl.org/rss/1.0/modules/content/}encoded"
body, path = sys.stdin.buffer.read(), sys.argv[1]
if path.endswith(".json"):
    items = [(i["title"], i.get("content_html", "")) for i in json.loads(body)["items"]]
else:
    root = ET.fromstring(body)
    items = [(i.findtext("title"), i.findtext(C) or "") for i in root.iter("item")]
    items += [(e.findtext(A + "title"), e.findtext(A + "content") or "") for e in root.iter(A + "entry")]
for title, text in items:
    if not text.strip():
        print(f"{path}: {title}")' "$path"
  done
}
FEEDS=(/rss.xml /atom.xml /feed.json)
before=$(without_text "${FEEDS[@]}")
[ -z "$before" ] || die "items without text before the rewrite: $before"

python3 - "$WORK/articles" <<'PY'
import os, sys, time
folder = sys.argv[1]
a1 = os.path.join(folder, "a1.txt")
old = open(a1, "rb").read()
f = open(a1, "wb")  # truncated now, the same bytes written 0.8 s later
f.flush()
new = open(os.path.join(folder, "a2.txt")).read()
new = new.replace("Story 2", "Story 4").replace("story 2", "story 4").replace("10:02", "10:04")
new = new.replace("number : 702", "number : 704")
with open(os.path.join(folder, ".a4.tmp"), "w") as t:
    t.write(new)
os.replace(os.path.join(folder, ".a4.tmp"), os.path.join(folder, "a4.txt"))
time.sleep(0.8)
f.write(old)
f.close()
PY
sleep 35
kill -HUP "$SERVER_PID"
sleep 2
after=$(without_text "${FEEDS[@]}")
echo "server warnings:"
sed -E 's/^[^ ]+ +/    /' "$WORK/serve.log" | cut -c1-200
if [ -n "$after" ]; then
  echo "items without text 35 s after the rewrite and after SIGHUP (the file holds its old bytes):"
  sed 's/^/    /' <<<"$after"
  exit 1
fi
echo "every item has its text"
