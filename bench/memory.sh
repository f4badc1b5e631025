#!/usr/bin/env bash
# Memory and start-up of `feedpub serve` on a large corpus:
#   `feedpub build` of the corpus into the output folder first (a restart's case: the site is
#   on disk already), then the time from `serve`'s start to the first /rss.xml answered (page
#   cache warm), then, once the copy of the site in the output folder is checked (the
#   server's CPU time stops moving), 300 archive
#   pages (RSS, Atom and HTML of 100 page numbers spread over the history) and 500 article
#   pages spread over the corpus are fetched, and the server's VmRSS and VmHWM are read;
#   VmRSS again 15 s and 200 feed polls later (what a server that has run a while holds).
#   That first start has no saved articles (OUT/.feedpub-articles is removed before it);
#   the server is then stopped and started again, and the restart's first feed and VmRSS
#   once settled are read (the restart takes unchanged articles from the saved ones).
#
#   bench/memory.sh                 N = 100,000 articles
#   bench/memory.sh --quick         N = 1,000 (CI smoke)
#   bench/memory.sh --baseline BIN  also BIN (another feedpub, e.g. an older commit's release
#                                   build), one after the other on the same corpus, per round
#
# Options: --n N, --rounds N, --baseline BIN, --no-build, --keep. Corpora are made by
# bench/gen_corpus.py (seed 1) into /tmp/feedpub-corpus-N, shared with bench/regen.sh.
# Results: bench/results/memory-*.md.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=1
N=100000
BASELINE=""
COMMON_OPTIONS="--quick --rounds --no-build --keep"
quick_defaults() { ROUNDS=1; N=1000; }
own_option() {
  case "$1" in
    --n) N="$2"; OPT_SHIFT=2 ;;
    --baseline) BASELINE="$2"; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
need_tools curl:curl

build_release
work_folder memory
declare -A BIN=([feedpub]="$(private_copy "$FEEDPUB" feedpub)")
SERVERS=(feedpub)
if [ -n "$BASELINE" ]; then
  BIN[feedpub-base]="$(private_copy "$BASELINE" feedpub-base)"
  SERVERS+=(feedpub-base)
fi

DIR="$(corpus "$N")"
log "warming the page cache"
warm "$DIR/articles"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$BENCH/results"
TSV="$BENCH/results/memory-$STAMP.tsv"
MD="$BENCH/results/memory-$STAMP.md"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'round\tserver\tready_s\tsettled_s\trss_mb\thwm_mb\tpages\tsteady_mb\trestart_s\trestart_mb\n' >"$TSV"

# start_serve SERVER PORT: starts SERVER in the background (its pid in SERVED) and waits for
# its first /rss.xml; sets READY to the seconds that took.
start_serve() {
  local server="$1" port="$2" started
  started="$(date +%s.%N)"
  RUST_LOG=warn "${BIN[$server]}" serve --config "$WORK/$server.toml" --addr "127.0.0.1:$port" \
    >>"$WORK/$server.log" 2>&1 &
  SERVED=$!
  PIDS+=("$SERVED")
  wait_http200 "http://127.0.0.1:$port/rss.xml" 600 "$SERVED" "$WORK/$server.log"
  READY="$(python3 -c "print('%.2f' % ($(date +%s.%N) - $started))")"
  STARTED="$started"
}

# measure ROUND SERVER: a start of SERVER without saved articles, then a restart; their
# figures appended to the TSV.
measure() {
  local round="$1" server="$2" port out pid ready settled
  port="$(free_ports 1)"
  out="$WORK/out-$server"
  cat >"$WORK/$server.toml" <<EOF
title = "feedpub bench"
base_url = "http://127.0.0.1:$port"
timezone = "Asia/Tehran"
articles = "$DIR/articles"
output = "$out"
max_items = 50
rescan_interval_secs = 3600
stats = false
EOF
  if [ ! -d "$out" ]; then
    log "$server build into $out"
    "${BIN[$server]}" build --config "$WORK/$server.toml" >"$WORK/$server-build.log" 2>&1
  fi
  rm -f "$out/.feedpub-articles"
  start_serve "$server" "$port"
  pid="$SERVED"
  ready="$READY"
  settle "$pid"
  settled="$(python3 -c "print('%.2f' % ($(date +%s.%N) - $STARTED - 2))")"
  local pages
  pages="$(python3 - "$port" "$out" <<'EOF'
import http.client, os, sys
port, out = int(sys.argv[1]), sys.argv[2]
ids = sorted(n[:-5] for n in os.listdir(os.path.join(out, "articles")) if n.endswith(".html"))
archive = len([n for n in os.listdir(os.path.join(out, "archive", "rss")) if n.endswith(".xml")])
paths = []
for i in range(100):
    n = 1 + i * max(archive - 1, 0) // 99
    paths += [f"/archive/rss/{n}.xml", f"/archive/atom/{n}.xml", f"/archive/{n}.html"]
for i in range(500):
    paths.append(f"/articles/{ids[i * (len(ids) - 1) // 499]}.html")
conn = http.client.HTTPConnection("127.0.0.1", port)
ok = 0
for path in paths:
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or not body:
        sys.exit(f"{path}: {r.status}")
    ok += 1
print(ok)
EOF
)"
  local rss hwm steady
  rss="$(status_mb "$pid" VmRSS)"
  hwm="$(status_mb "$pid" VmHWM)"
  # What a server holds once it has been serving a while: 15 s later, after 200 polls.
  sleep 15
  for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$port/rss.xml"; done
  steady="$(status_mb "$pid" VmRSS)"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # The restart.
  local restart restart_mb
  start_serve "$server" "$port"
  restart="$READY"
  settle "$SERVED"
  restart_mb="$(status_mb "$SERVED" VmRSS)"
  kill -TERM "$SERVED" 2>/dev/null || true
  wait "$SERVED" 2>/dev/null || true
  printf '   round %s %-13s ready %6s s  settled %6s s  VmRSS %5s MB  VmHWM %5s MB  steady %5s MB  (%s pages)  restart %6s s  %5s MB\n' \
    "$round" "$server" "$ready" "$settled" "$rss" "$hwm" "$steady" "$pages" "$restart" "$restart_mb" >&2
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$ready" "$settled" "$rss" "$hwm" "$pages" "$steady" "$restart" "$restart_mb" >>"$TSV"
}

log "load $LOAD_BEFORE; $ROUNDS round(s) x ${SERVERS[*]} on $N articles"
for ((round = 1; round <= ROUNDS; round++)); do
  for server in "${SERVERS[@]}"; do measure "$round" "$server"; done
done
PIDS=()

python3 - "$TSV" "$N" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF' | tee "$MD"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"`feedpub serve` on {int(sys.argv[2]):,} articles (load {sys.argv[3]} before, {sys.argv[4]} after); medians over rounds:")
print()
print("| server | first feed after start | site copy on disk after | VmRSS after 300 archive + 500 article pages | VmRSS 15 s and 200 polls later | VmHWM | first feed after a restart | VmRSS after the restart | rounds |")
print("|---|---|---|---|---|---|---|---|---|")
for server in dict.fromkeys(r["server"] for r in rows):
    mine = [r for r in rows if r["server"] == server]
    med = lambda k: statistics.median(float(r[k]) for r in mine)
    print(f"| {server} | {med('ready_s'):.2f} s | {med('settled_s'):.2f} s | {med('rss_mb'):.0f} MB | {med('steady_mb'):.0f} MB | {med('hwm_mb'):.0f} MB | {med('restart_s'):.2f} s | {med('restart_mb'):.0f} MB | {len(mine)} |")
EOF
echo "results: $MD" >&2
