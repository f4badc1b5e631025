#!/usr/bin/env bash
# Regeneration benchmark of feedpub:
#   (a) `feedpub build` wall time and peak RSS (/usr/bin/time -v) at N = 1k, 10k, 100k;
#   (b) Hugo building the same 10k posts as Markdown with RSS output, in the same rounds;
#   (a') the floors of a build, in the same rounds: reading the same files with 2 threads
#       (`xargs -P 2 cat`), and copying the site the build wrote with 2 threads (`xargs -P 2
#       cp`: creating and writing the same files, from the page cache);
#   (c) scale, for each N of --incremental-n (default 100k): `feedpub build` of the corpus
#       (when N is not one of --sizes), then `feedpub serve` on it: the time to the first
#       /rss.xml, VmRSS once the site copy is done; edits of the newest article, the time
#       from each write to the new ETag on /rss.xml (minus debounce_ms); 3 rescans of the
#       whole folder (SIGHUP), their wall time and CPU time; VmRSS and VmHWM after; then a
#       restart (articles taken from the saved ones) and its first feed and VmRSS 10 s later,
#       and how long (wall and CPU) the restarted server takes to check the site on disk.
#
#   bench/regen.sh            all of the above, 3 alternating rounds, 10 edits
#   bench/regen.sh --quick    N = 1,000 only, 1 round, no Hugo, 3 edits (CI smoke)
#
# Options: --rounds N, --edits N, --sizes "1000 10000 100000", --incremental-n "N...", --no-hugo,
# --sites DIR (the scale part's output folders in DIR, kept: a later run serves the site
# built before instead of building it again; at a million articles the build takes minutes),
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
SITES=""
COMMON_OPTIONS="--quick --rounds --no-build --keep"
quick_defaults() { ROUNDS=1; EDITS=3; SIZES="1000"; HUGO=0; INCR_N=1000; }
own_option() {
  case "$1" in
    --edits) EDITS="$2"; OPT_SHIFT=2 ;;
    --sizes) SIZES="$2"; OPT_SHIFT=2 ;;
    --incremental-n) INCR_N="$2"; OPT_SHIFT=2 ;;
    --no-hugo) HUGO=0 ;;
    --sites) SITES="$2"; OPT_SHIFT=2 ;;
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
  for n in $SIZES; do jobs+=("feedpub:$n" "floor:$n" "copy:$n"); done
  [ "$HUGO" = 1 ] && jobs+=("hugo:$HUGO_N")
  # Alternate: odd rounds in order, even rounds reversed.
  if [ $((round % 2)) = 0 ]; then
    rev=(); for ((i = ${#jobs[@]} - 1; i >= 0; i--)); do rev+=("${jobs[$i]}"); done; jobs=("${rev[@]}")
  fi
  for job in "${jobs[@]}"; do
    tool="${job%%:*}"; n="${job#*:}"
    # Same warm page cache for both tools: on this VM the page cache of a corpus written
    # minutes ago is often reclaimed, and cold reads then dominate (~0.5 ms per file).
    if [ "$tool" = hugo ]; then warm "$HUGO_DIR/content"; else warm "${DIRS[$n]}/articles"; fi
    if [ "$tool" = feedpub ]; then
      rm -rf "$WORK/out-$(basename "${DIRS[$n]}")"
      read -r secs rss <<<"$(timed x "$FEEDPUB" build --config "${DIRS[$n]}/feedpub.toml")"
    elif [ "$tool" = floor ]; then
      # What any build must do at least: open, read and close every file, on both cores.
      read -r secs rss <<<"$(timed x sh -c 'find "$1" -type f -print0 | xargs -0 -P 2 -n 2000 cat >/dev/null' sh "${DIRS[$n]}/articles")"
    elif [ "$tool" = copy ]; then
      # What writing the site costs at least: creating its files and writing their bytes.
      site="$WORK/out-$(basename "${DIRS[$n]}")"
      [ -d "$site" ] || "$FEEDPUB" build --config "${DIRS[$n]}/feedpub.toml" >/dev/null 2>&1
      rm -rf "$WORK/copy"; mkdir -p "$WORK/copy"
      warm "$site"
      read -r secs rss <<<"$(timed x sh -c 'cd "$1" && find . -type f -print0 | xargs -0 -P 2 -n 4000 cp --parents -t "$2"' sh "$site" "$WORK/copy")"
      rm -rf "$WORK/copy"
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

# --- (c): scale ---------------------------------------------------------------------------
SCALE="$WORK/scale.tsv"
: >"$SCALE"
cpu_secs() { awk -v t="$(getconf CLK_TCK)" -v n="$(cpu_ticks "$1")" 'BEGIN {printf "%.2f", n / t}'; }
# start_serve DIR PORT LOG: starts serve on DIR's configuration, waits for its first
# /rss.xml; SERVE_PID and READY (seconds) are set.
start_serve() {
  local started
  started="$(date +%s.%N)"
  RUST_LOG="${FEEDPUB_LOG:-info,feedpub::serve=debug}" "$FEEDPUB" serve --config "$1/feedpub.toml" \
    --addr "127.0.0.1:$2" >>"$3" 2>&1 &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  wait_http200 "http://127.0.0.1:$2/rss.xml" 900 "$SERVE_PID" "$3"
  READY="$(python3 -c "print('%.2f' % ($(date +%s.%N) - $started))")"
  STARTED="$started"
}
# site_checked LOG COUNT: waits until LOG has more than COUNT "output folder updated" lines
# (the server's copy of the site checked and brought up to date); prints "wall_s cpu_s":
# from start_serve to that line's own time stamp, and the server's whole CPU time (loading,
# first feed and the check; an idle server adds next to nothing after it).
site_checked() {
  wait_site_checked "$1" "$2" "$SERVE_PID" || true
  local line
  line="$(grep 'output folder updated' "$1" | tail -1)"
  echo "$(python3 - "$STARTED" "$line" <<'PY'
import sys
from datetime import datetime
started, line = float(sys.argv[1]), sys.argv[2]
try:
    stamp = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
    print("%.1f" % (stamp - started))
except (ValueError, IndexError):
    print("n/a")
PY
) $(cpu_secs "$SERVE_PID")"
}
stop_serve() {
  kill -TERM "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
  PIDS=()
}
# rescans LOG: 3 rescans of the whole articles folder (SIGHUP, nothing changed), one after
# the other; prints "wall_ms cpu_ms" of each, wall time as the server logs it.
rescans() {
  local k before after count
  for k in 1 2 3; do
    count="$(grep -c 'rescan: nothing changed' "$1" || true)"
    before="$(cpu_secs "$SERVE_PID")"
    kill -HUP "$SERVE_PID"
    for _ in $(seq 1 6000); do
      [ "$(grep -c 'rescan: nothing changed' "$1" || true)" -gt "$count" ] && break
      sleep 0.05
    done
    sleep 0.2
    after="$(cpu_secs "$SERVE_PID")"
    wall="$(grep 'rescan: nothing changed' "$1" | tail -1 | grep -o 'millis=[0-9]*' | cut -d= -f2)"
    echo "$wall $(python3 -c "print(round(($after - $before) * 1000))")"
  done
}

for n in $INCR_N; do
  INCR_DIR="$(corpus "$n")"
  config "$INCR_DIR"
  OUT="$WORK/out-$(basename "$INCR_DIR")"
  if [ -n "$SITES" ]; then
    mkdir -p "$SITES"
    OUT="$SITES/out-$(basename "$INCR_DIR")"
    sed -i "s|^output = .*|output = \"$OUT\"|" "$INCR_DIR/feedpub.toml"
  fi
  NEWEST_PATH=("$INCR_DIR"/articles/000000_*.txt)
  NEWEST="$(basename "${NEWEST_PATH[0]}")"
  # Restore article 0 from a pristine copy so repeated runs start from the same bytes.
  if [ -f "$INCR_DIR/.newest.orig" ]; then
    cp "$INCR_DIR/.newest.orig" "$INCR_DIR/articles/$NEWEST"
  else
    cp "$INCR_DIR/articles/$NEWEST" "$INCR_DIR/.newest.orig"
  fi
  warm "$INCR_DIR/articles"
  build_s=-; build_mb=-
  if [ ! -d "$OUT" ]; then
    log "scale N=$n: feedpub build"
    read -r build_s rss <<<"$(timed x "$FEEDPUB" build --config "$INCR_DIR/feedpub.toml")"
    build_mb="$((rss / 1024))"
    log "built in $build_s s, peak RSS $build_mb MB"
  fi
  rm -f "$OUT/.feedpub-articles"
  PORT="$(free_ports 1)"
  LOGF="$WORK/serve-$n.log"
  log "scale N=$n: feedpub serve, debounce_ms = $DEBOUNCE_MS, port $PORT"
  start_serve "$INCR_DIR" "$PORT" "$LOGF"
  ready="$READY"
  log "first feed after $ready s; waiting for the site copy"
  settle "$SERVE_PID"
  settled_mb="$(status_mb "$SERVE_PID" VmRSS)"
  if [ "$PERF" = 1 ]; then
    perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$SERVE_PID" -o "$WORK/perf.data" >/dev/null 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 1
  fi
  python3 "$BENCH/incremental.py" --url "http://127.0.0.1:$PORT/rss.xml" \
    --article "$INCR_DIR/articles/$NEWEST" --edits "$EDITS" --pid "$SERVE_PID" >"$WORK/incr-$n.txt"
  if [ "$PERF" = 1 ]; then
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    perf report -i "$WORK/perf.data" --children --stdio --sort symbol --percent-limit 1.5 2>/dev/null \
      | grep -E '^ +[0-9]' | sed 's/ \{2,\}-  *-  *$//' >"$BENCH/results/regen-perf-$STAMP.txt" || true
    echo "perf report: $BENCH/results/regen-perf-$STAMP.txt" >&2
  fi
  settle "$SERVE_PID"
  log "rescans"
  RESCANS="$(rescans "$LOGF" | tr '\n' ' ')"
  after_mb="$(status_mb "$SERVE_PID" VmRSS)"
  hwm_mb="$(status_mb "$SERVE_PID" VmHWM)"
  REGEN_MS="$(grep 'regenerated' "$LOGF" | grep -o 'millis=[0-9]*' | cut -d= -f2 | tr '\n' ',' | sed 's/,$//')"
  stop_serve
  cp "$INCR_DIR/.newest.orig" "$INCR_DIR/articles/$NEWEST"
  log "restart"
  copies="$(grep -c 'output folder updated' "$LOGF" || true)"
  start_serve "$INCR_DIR" "$PORT" "$LOGF"
  restart="$READY"
  # Read while the site copy runs (it checks every page again).
  sleep 10
  restart_mb="$(status_mb "$SERVE_PID" VmRSS)"
  log "waiting for the restarted server's check of the site"
  read -r check_wall check_cpu <<<"$(site_checked "$LOGF" "$copies")"
  stop_serve
  # One line per N: the figures, then incremental.py's key-value lines joined by ';'.
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$build_s" "$build_mb" "$ready" \
    "$settled_mb" "$after_mb" "$hwm_mb" "$restart" "$restart_mb" "$check_wall/$check_cpu" \
    "$RESCANS" "${REGEN_MS:-n/a}" \
    "$(tr '\n' ';' <"$WORK/incr-$n.txt")" >>"$SCALE"
done

# --- report --------------------------------------------------------------------------------
python3 - "$TSV" "$SCALE" "$DEBOUNCE_MS" "$LOAD_BEFORE" "$HUGO_N" <<'EOF' | tee "$MD"
import statistics, sys
from collections import defaultdict
tsv, scale, debounce, load, hugo_n = sys.argv[1:6]
debounce = float(debounce)
rows = defaultdict(list)
for line in open(tsv):
    rnd, tool, n, secs, rss = line.split()
    rows[(tool, int(n))].append((int(rnd), float(secs), int(rss)))
print("## bench/regen.sh")
print()
print("load before builds: %s; at the end: %s" % (load, " ".join(open("/proc/loadavg").read().split()[:3])))
print()
print("| tool | N | wall time (median) | peak RSS (median) | rounds |")
print("|---|---|---|---|---|")
order = {"feedpub": 0, "floor": 1, "copy": 2, "hugo": 3}
for (tool, n) in sorted(rows, key=lambda k: (k[1], order.get(k[0], 3))):
    v = rows[(tool, n)]
    print("| %s | %s | %.3f s | %.1f MB | %s |" % (
        tool, "{:,}".format(n), statistics.median(x[1] for x in v),
        statistics.median(x[2] for x in v) / 1024, " ".join("%.3f" % x[1] for x in sorted(v))))


def per_round(a, b):
    x = {r: s for r, s, _ in rows[a]}
    y = {r: s for r, s, _ in rows[b]}
    return [x[r] / y[r] for r in sorted(set(x) & set(y))]


print()
for n in sorted({n for _, n in rows}):
    if ("feedpub", n) in rows and ("floor", n) in rows:
        ratios = per_round(("feedpub", n), ("floor", n))
        r = statistics.median(ratios)
        target = ""
        if n == 10000:
            target = "; target ≤ 1.3× at 10k: %s" % ("met" if r <= 1.3 else "MISSED")
        print("feedpub build / floor (reading the files, 2 threads) at N = %s: **%.2f×** (per round %s)%s" % (
            "{:,}".format(n), r, ", ".join("%.2f" % x for x in ratios), target))
    if ("feedpub", n) in rows and ("copy", n) in rows:
        ratios = per_round(("feedpub", n), ("copy", n))
        print("feedpub build / copying the site it wrote (2 threads) at N = %s: **%.2f×** (per round %s)" % (
            "{:,}".format(n), statistics.median(ratios), ", ".join("%.2f" % x for x in ratios)))
hn = int(hugo_n)
if ("hugo", hn) in rows and ("feedpub", hn) in rows:
    ratios = per_round(("hugo", hn), ("feedpub", hn))
    print()
    print("Hugo / feedpub wall time at N = %s: %.1f× (median of per-round ratios %s)" % (
        "{:,}".format(hn), statistics.median(ratios), ", ".join("%.1f" % x for x in ratios)))
print()
print("Scale (`feedpub build`, then `serve`; debounce_ms = %g; edit → new ETag is minus the debounce):" % debounce)
print()
print("| N | build | build peak RSS | first feed | VmRSS, site copied | edit → new ETag, median (min–max) "
      "| gzip variant, median (max) | regeneration (server), median | rescan wall / CPU (3 rescans) | VmRSS / VmHWM after | restart: first feed, VmRSS "
      "| restart: site on disk checked, wall / CPU |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for line in open(scale):
    n, build_s, build_mb, ready, settled, after, hwm, restart, restart_mb, check, rescans, regen, incr = \
        line.rstrip("\n").split("\t")
    kv = dict(x.split(None, 1) for x in incr.split(";") if x.strip())
    nums = rescans.split()
    regen_ms = [int(x) for x in regen.split(",") if x.isdigit()]
    print("| %s | %s | %s | %s s | %s MB | **%.1f ms** (%.1f–%.1f) | %.1f ms (%.1f) | %s ms | %s ms / %s ms | %s / %s MB | %s s, %s MB | %s s / %s s |" % (
        "{:,}".format(int(n)),
        "%s s" % build_s if build_s != "-" else "— (built above or by an earlier run)",
        "%s MB" % build_mb if build_mb != "-" else "",
        ready, settled,
        float(kv["median_ms"]) - debounce, float(kv["min_ms"]) - debounce, float(kv["max_ms"]) - debounce,
        float(kv.get("gzip_median_ms", "nan")) - debounce, float(kv.get("gzip_max_ms", "nan")) - debounce,
        statistics.median(regen_ms) if regen_ms else "n/a",
        ", ".join(nums[0::2]), ", ".join(nums[1::2]), after, hwm, restart, restart_mb,
        *check.split("/")))
EOF
echo "results: $MD" >&2
