#!/usr/bin/env bash
# Regeneration benchmark of feedpub:
#   (a) `feedpub build` wall time and peak RSS (/usr/bin/time -v) at N = 1k, 10k, 100k;
#   (b) Hugo building the same 10k posts as Markdown with RSS output, in the same rounds;
#   (c) incremental: `feedpub serve` on the 100k corpus, edit the newest article, time from
#       the write to the new ETag on /rss.xml (minus debounce_ms), and the server's VmRSS.
#
#   bench/regen.sh            all of the above, 3 alternating rounds, 10 edits
#   bench/regen.sh --quick    N = 1,000 only, 1 round, no Hugo, 3 edits (CI smoke)
#
# Options: --rounds N, --edits N, --sizes "1000 10000 100000", --incremental-n N, --no-hugo,
# --no-build, --keep (leave the work folder in /tmp for inspection), --perf (record the
# server with `perf record -e cpu-clock --call-graph dwarf` during the edits; report in
# bench/results/regen-perf-*.txt).
# Corpora are generated once into /tmp/feedpub-corpus-N (bench/gen_corpus.py, seed 1) and
# reused while their stamp matches. Results: bench/results/regen-*.md.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3
EDITS=10
SIZES="1000 10000 100000"
HUGO_N=10000
INCR_N=100000
HUGO=1
DEBOUNCE_MS=20
PERF=0
COMMON_OPTIONS="--quick --rounds --no-build --keep"
quick_defaults() { ROUNDS=1; EDITS=3; SIZES="1000"; HUGO=0; INCR_N=1000; }
own_option() {
  case "$1" in
    --edits) EDITS="$2"; OPT_SHIFT=2 ;;
    --sizes) SIZES="$2"; OPT_SHIFT=2 ;;
    --incremental-n) INCR_N="$2"; OPT_SHIFT=2 ;;
    --no-hugo) HUGO=0 ;;
    --perf) PERF=1 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"

tools=(/usr/bin/time:time curl:curl)
if [ "$HUGO" = 1 ]; then tools+=(hugo:hugo); fi
need_tools "${tools[@]}"

build_release
work_folder regen
FEEDPUB="$(private_copy "$FEEDPUB" feedpub)"

hugo_site() {
  local n="$1" dir="/tmp/feedpub-hugo-$1"
  if stale "$dir"; then
    log "generating $n Markdown posts into $dir"
    rm -rf "$dir"
    python3 "$BENCH/gen_corpus.py" -n "$n" --markdown "$dir/content/posts" --seed 1
    # Hugo 0.111 reads rssLimit; newer versions read services.rss.limit.
    cat >"$dir/hugo.toml" <<'EOF'
baseURL = "http://127.0.0.1:8080/"
title = "feedpub bench"
languageCode = "en"
timeZone = "Asia/Tehran"
rssLimit = 50
disableKinds = ["taxonomy", "term", "sitemap", "robotsTXT", "404"]
[outputs]
home = ["RSS"]
section = ["RSS"]
page = []
[services.rss]
limit = 50
EOF
    stamp "$dir"
  fi
  echo "$dir"
}
config() { # dir -> writes dir/feedpub.toml
  cat >"$1/feedpub.toml" <<EOF
title = "feedpub bench"
base_url = "http://127.0.0.1:8080"
timezone = "Asia/Tehran"
articles = "articles"
output = "$WORK/out-$(basename "$1")"
max_items = 50
debounce_ms = $DEBOUNCE_MS
rescan_interval_secs = 3600
EOF
}

# timed LABEL CMD...: runs CMD under /usr/bin/time -v, prints "seconds max_rss_kb".
timed() {
  local out="$WORK/time.txt"
  shift
  if ! /usr/bin/time -v -o "$out" "$@" >"$WORK/cmd.log" 2>&1; then
    cat "$WORK/cmd.log" "$out" >&2
    echo "command failed: $*" >&2
    exit 1
  fi
  python3 - "$out" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
secs = 0.0
for part in wall.split(":"):
    secs = secs * 60 + float(part)
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)
print("%.3f %s" % (secs, rss))
EOF
}

mkdir -p "$BENCH/results"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
MD="$BENCH/results/regen-$STAMP.md"
TSV="$WORK/build.tsv"
: >"$TSV"

# --- (a) + (b): full builds ----------------------------------------------------------------
declare -A DIRS
for n in $SIZES; do DIRS[$n]="$(corpus "$n")"; config "${DIRS[$n]}"; done
HUGO_DIR=""
if [ "$HUGO" = 1 ]; then
  HUGO_DIR="$(hugo_site "$HUGO_N")"
  [ -n "${DIRS[$HUGO_N]:-}" ] || { DIRS[$HUGO_N]="$(corpus "$HUGO_N")"; config "${DIRS[$HUGO_N]}"; }
fi
log "load before builds: $(cut -d' ' -f1-3 /proc/loadavg)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  jobs=()
  for n in $SIZES; do jobs+=("feedpub:$n"); done
  [ "$HUGO" = 1 ] && jobs+=("hugo:$HUGO_N")
  # Alternate: odd rounds in order, even rounds reversed.
  if [ $((round % 2)) = 0 ]; then
    rev=(); for ((i = ${#jobs[@]} - 1; i >= 0; i--)); do rev+=("${jobs[$i]}"); done; jobs=("${rev[@]}")
  fi
  for job in "${jobs[@]}"; do
    tool="${job%%:*}"; n="${job#*:}"
    # Same warm page cache for both tools: on this VM the page cache of a corpus written
    # minutes ago is often reclaimed, and cold reads then dominate (~0.5 ms per file).
    if [ "$tool" = feedpub ]; then warm "${DIRS[$n]}/articles"; else warm "$HUGO_DIR/content"; fi
    if [ "$tool" = feedpub ]; then
      rm -rf "$WORK/out-$(basename "${DIRS[$n]}")"
      read -r secs rss <<<"$(timed x "$FEEDPUB" build --config "${DIRS[$n]}/feedpub.toml")"
    else
      rm -rf "$WORK/hugo-out"
      read -r secs rss <<<"$(timed x hugo --quiet --source "$HUGO_DIR" --destination "$WORK/hugo-out")"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$tool" "$n" "$secs" "$rss" >>"$TSV"
    printf '   round %s %-7s N=%-6s %8.3f s  peak RSS %7d kB\n' "$round" "$tool" "$n" "$secs" "$rss" >&2
  done
done
if [ "$HUGO" = 1 ]; then
  grep -c "<item>" "$WORK/hugo-out/index.xml" | sed 's/^/   hugo index.xml items: /' >&2
fi

# --- (c): incremental --------------------------------------------------------------------
INCR_DIR="$(corpus "$INCR_N")"
config "$INCR_DIR"
NEWEST_PATH=("$INCR_DIR"/articles/000000_*.txt)
NEWEST="$(basename "${NEWEST_PATH[0]}")"
# Restore article 0 from a pristine copy so repeated runs start from the same bytes.
if [ -f "$INCR_DIR/.newest.orig" ]; then
  cp "$INCR_DIR/.newest.orig" "$INCR_DIR/articles/$NEWEST"
else
  cp "$INCR_DIR/articles/$NEWEST" "$INCR_DIR/.newest.orig"
fi
PORT="$(free_ports 1)"
log "incremental: feedpub serve on $INCR_N articles, debounce_ms = $DEBOUNCE_MS, port $PORT"
warm "$INCR_DIR/articles"
STARTED="$(date +%s.%N)"
RUST_LOG="${FEEDPUB_LOG:-info}" "$FEEDPUB" serve --config "$INCR_DIR/feedpub.toml" --addr "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_http200 "http://127.0.0.1:$PORT/rss.xml" 120 "$SERVE_PID" "$WORK/serve.log"
READY="$(python3 -c "print('%.2f' % ($(date +%s.%N) - $STARTED))")"
log "ready after ${READY} s"
sleep 1
if [ "$PERF" = 1 ]; then
  perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$SERVE_PID" -o "$WORK/perf.data" >/dev/null 2>&1 &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
  sleep 1
fi
python3 "$BENCH/incremental.py" --url "http://127.0.0.1:$PORT/rss.xml" \
  --article "$INCR_DIR/articles/$NEWEST" --edits "$EDITS" --pid "$SERVE_PID" >"$WORK/incr.txt"
if [ "$PERF" = 1 ]; then
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  perf report -i "$WORK/perf.data" --children --stdio --sort symbol --percent-limit 1.5 2>/dev/null \
    | grep -E '^ +[0-9]' | sed 's/ \{2,\}-  *-  *$//' >"$BENCH/results/regen-perf-$STAMP.txt" || true
  echo "perf report: $BENCH/results/regen-perf-$STAMP.txt" >&2
fi
kill -TERM "$SERVE_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
PIDS=()
cp "$INCR_DIR/.newest.orig" "$INCR_DIR/articles/$NEWEST"
REGEN_MS="$(grep -o 'millis=[0-9]*' "$WORK/serve.log" | cut -d= -f2 | tr '\n' ' ')"

# --- report --------------------------------------------------------------------------------
python3 - "$TSV" "$WORK/incr.txt" "$DEBOUNCE_MS" "$INCR_N" "$READY" "$REGEN_MS" "$LOAD_BEFORE" "$HUGO_N" <<'EOF' | tee "$MD"
import statistics, sys
from collections import defaultdict
tsv, incr, debounce, incr_n, ready, regen_ms, load, hugo_n = sys.argv[1:9]
rows = defaultdict(list)
for line in open(tsv):
    rnd, tool, n, secs, rss = line.split()
    rows[(tool, int(n))].append((int(rnd), float(secs), int(rss)))
print("## bench/regen.sh")
print()
print("load before builds: %s; after: %s" % (load, open("/proc/loadavg").read().split()[:3]))
print()
print("| tool | N | wall time (median) | peak RSS (median) | rounds |")
print("|---|---|---|---|---|")
for (tool, n) in sorted(rows, key=lambda k: (k[0] != "feedpub", k[1])):
    v = rows[(tool, n)]
    print("| %s | %s | %.3f s | %.1f MB | %s |" % (
        tool, "{:,}".format(n), statistics.median(x[1] for x in v),
        statistics.median(x[2] for x in v) / 1024, " ".join("%.3f" % x[1] for x in sorted(v))))
hn = int(hugo_n)
if ("hugo", hn) in rows and ("feedpub", hn) in rows:
    f = {r: s for r, s, _ in rows[("feedpub", hn)]}
    h = {r: s for r, s, _ in rows[("hugo", hn)]}
    ratios = [h[r] / f[r] for r in sorted(set(f) & set(h))]
    r = statistics.median(ratios)
    print()
    print("Hugo / feedpub wall time at N = %s: %.1f× (median of per-round ratios %s); target ≥ 10×: %s" % (
        "{:,}".format(hn), r, ", ".join("%.1f" % x for x in ratios), "met" if r >= 10 else "MISSED"))
kv = dict(line.split(None, 1) for line in open(incr) if line.strip())
median = float(kv["median_ms"])
net = median - float(debounce)
print()
print("Incremental at N = %s (debounce_ms = %s): write → new ETag median %.1f ms (min %s, max %s; %s edits: %s ms);" % (
    "{:,}".format(int(incr_n)), debounce, median, kv["min_ms"].strip(), kv["max_ms"].strip(), kv["edits"].strip(), kv["samples_ms"].strip()))
print("minus debounce: **%.1f ms** (target ≤ 50 ms: %s). Server-reported regeneration times (ms): %s." % (
    net, "met" if net <= 50 else "MISSED", regen_ms.strip() or "n/a"))
rss = kv.get("vmrss_kb", "None").strip()
hwm = kv.get("vmhwm_kb", "None").strip()
if rss != "None":
    print("Server memory with %s articles loaded: VmRSS %.0f MB, VmHWM %.0f MB; ready (first feed served) after %s s." % (
        "{:,}".format(int(incr_n)), int(rss) / 1024, int(hwm) / 1024, ready))
EOF
echo "results: $MD" >&2
