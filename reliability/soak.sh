#!/usr/bin/env bash
# Soak test: `feedpub serve` (release build) under 200 polling readers with conditional GET
# and a writer that adds, edits, re-scrapes and deletes articles every second, on loopback.
# Records responses, 5xx, malformed responses, 304 share, p50/p99 latency, and the server's
# RSS and open descriptors every 10 s; fails on any 5xx or malformed response, or growth.
#
#   reliability/soak.sh [--minutes N] [--readers N] [--no-build] [--keep]
#                                      (default 30 minutes, 200 readers)
#
# The report is printed and kept in reliability/results/soak-<date>.md. Not part of
# `cargo test`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"

MINUTES=30
READERS=200
COMMON_OPTIONS="--no-build --keep"
own_option() {
  case "$1" in
    --minutes) MINUTES=$2; OPT_SHIFT=2 ;;
    --readers) READERS=$2; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"

CARGO_FLAGS=(--quiet)
build_release
work_folder soak

mkdir -p "$WORK/articles" "$WORK/feeds"
cp seeds/* "$WORK/articles/"
# 100 more scraped-format articles, so the feeds have a realistic size.
for i in $(seq 1 100); do
  printf 'Print  Send to Friend\n\n1 June 2019\n\nSoak base story %s\n\nA paragraph of the base story %s, long enough to look like news.\n\nAnother paragraph.\n\n%s:%02d - 2019/06/01 / number : %s / Show Count : 1\n' \
    "$i" "$i" $((i % 24)) $((i % 60)) $((400000 + i)) > "$WORK/articles/base_$i.txt"
done
PORT=$(free_ports 1)
cat > "$WORK/feedpub.toml" <<TOML
title = "Soak"
articles = "articles"
output = "feeds"
addr = "127.0.0.1:$PORT"
timezone = "Asia/Tehran"
max_items = 50
TOML
RUST_LOG=warn "$FEEDPUB" serve --config "$WORK/feedpub.toml" >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 1 100); do
  grep -q serving "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
grep -q serving "$WORK/serve.out" || { cat "$WORK/serve.log"; echo "server did not start" >&2; exit 1; }

mkdir -p reliability/results
REPORT="reliability/results/soak-$(date -u +%Y%m%dT%H%MZ).md"
set +e
python3 reliability/soak.py --addr "127.0.0.1:$PORT" --pid "$SERVER_PID" --articles "$WORK/articles" \
  --minutes "$MINUTES" --readers "$READERS" | tee "$REPORT"
rc=${PIPESTATUS[0]}
set -e
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "the server died during the soak" | tee -a "$REPORT"; rc=1
fi
{
  echo
  echo "server log lines at WARN or above: $(grep -c -E 'WARN|ERROR' "$WORK/serve.log" || true)"
  grep -E 'WARN|ERROR' "$WORK/serve.log" | sed -E 's/^[^ ]+ +//' | cut -c1-200 | sort | uniq -c | sort -rn | head -10 | sed 's/^/    /'
} | tee -a "$REPORT" || true
echo "report: $REPORT"
exit "$rc"
