#!/usr/bin/env bash
# Profiles the serve hot path of `feedpub serve` with valgrind's callgrind (this machine's
# perf has no hardware counters; `perf stat -e instructions true` says <not supported>).
#
#   bench/profile_serve.sh [--duration SECS] [--no-build] [--keep] [--minimal] [--variant V]
#
# --variant says what feedpub records per request: `plain` (stats = false, no access log:
# the default), `stats` (subscriber statistics on), `ops` (statistics off; access log to a
# file, min_poll_interval_secs = 60 and an admin_token), `polite` (the same without the
# access log), `all` (statistics and ops). Instructions are
# counted on every thread (the writers' too), so the variants compare what each costs.
#
# Serves the same ~100 KB rss.xml as bench/serve.sh (1,000 synthetic articles, max_items 20)
# on one tokio worker under callgrind with instrumentation off, then for each case
# (identity, gzip, 304, and 304-close: a new connection per request) switches
# instrumentation on, runs wrk -c10 for --duration seconds, switches it off and dumps.
# Prints instructions per request and the top functions of each case; the full dumps stay
# in bench/results/profile-*/ for callgrind_annotate/kcachegrind.
# --minimal profiles bench/minimal (serving the same bytes) instead, for comparison.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=8
SERVER=feedpub
VARIANT=plain
COMMON_OPTIONS="--duration --no-build --keep"
own_option() {
  case "$1" in
    --minimal) SERVER=minimal ;;
    --variant) VARIANT="$2"; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
need_tools valgrind:valgrind wrk:wrk curl:curl
build_release
build_minimal

work_folder profile
FEEDPUB="$(private_copy "$FEEDPUB" feedpub)"
if [ -x "$MINIMAL" ]; then MINIMAL="$(private_copy "$MINIMAL" minimal)"; fi

PORT="$(free_ports 1)"
python3 "$BENCH/gen_corpus.py" -n 1000 --out "$WORK/articles" --seed 1
cat >"$WORK/feedpub.toml" <<EOF
base_url = "http://127.0.0.1:$PORT"
timezone = "Asia/Tehran"
articles = "articles"
output = "feeds"
max_items = 20
rescan_interval_secs = 3600
EOF
case "$VARIANT" in
  plain) echo 'stats = false' >>"$WORK/feedpub.toml" ;;
  stats) echo "stats_db = \"$WORK/stats.sqlite\"" >>"$WORK/feedpub.toml" ;;
  ops | all)
    if [ "$VARIANT" = ops ]; then echo 'stats = false' >>"$WORK/feedpub.toml"; fi
    cat >>"$WORK/feedpub.toml" <<EOF
stats_db = "$WORK/stats.sqlite"
access_log = "$WORK/access.log"
min_poll_interval_secs = 60
admin_token = "profile-token-0123456789abcdef"
EOF
    ;;
  polite)
    cat >>"$WORK/feedpub.toml" <<EOF
stats = false
min_poll_interval_secs = 60
admin_token = "profile-token-0123456789abcdef"
EOF
    ;;
  *) echo "--variant: plain, stats, ops, polite or all, not $VARIANT" >&2; exit 2 ;;
esac
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$BENCH/results/profile-$SERVER-$VARIANT-$STAMP"
mkdir -p "$OUT"
"$FEEDPUB" build --config "$WORK/feedpub.toml" >/dev/null
gzip -9 -kf "$WORK/feeds/rss.xml"
if [ "$SERVER" = feedpub ]; then
  cmd=("$FEEDPUB" serve --config "$WORK/feedpub.toml" --addr "127.0.0.1:$PORT")
else
  cmd=("$MINIMAL" "127.0.0.1:$PORT" "$WORK/feeds/rss.xml" "$WORK/feeds/rss.xml.gz")
fi
log "starting $SERVER under callgrind (instrumentation off until the load starts)"
# feedpub::serve's debug lines are kept: the start's check of the site on disk ("output folder
# updated") must be over before counting, or it is counted with the first case.
TOKIO_WORKER_THREADS=1 RUST_LOG=warn,feedpub::serve=debug valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$OUT/callgrind.out.%p" "${cmd[@]}" >"$WORK/serve.log" 2>&1 &
PID=$!
PIDS+=("$PID")
URL="http://127.0.0.1:$PORT/rss.xml"
wait_http200 "$URL" 300 "$PID" "$WORK/serve.log"
if [ "$SERVER" = feedpub ] && ! wait_site_checked "$WORK/serve.log" 0 "$PID" 300; then
  cat "$WORK/serve.log" >&2
  die "the site check did not end"
fi
ETAG="$(curl -fsS -A 'profile: ETag' -o /dev/null -D - -H 'Accept-Encoding: gzip' "$URL" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')"
log "ready; gzip ETag $ETAG"

: >"$OUT/summary.txt"
# The summary pipes end early on purpose (head, awk exit): no pipefail from here on.
set +o pipefail
for case in identity gzip 304 304-close; do
  # A reader's User-Agent, as every real poll has (the access log and statistics read it).
  args=(-H "User-Agent: $READER_AGENT")
  case "$case" in
    gzip) args+=(-H 'Accept-Encoding: gzip') ;;
    304) args+=(-H 'Accept-Encoding: gzip' -H "If-None-Match: $ETAG") ;;
    # A new connection per poll, as most feed readers poll: accept, first read, close.
    304-close) args+=(-H 'Accept-Encoding: gzip' -H "If-None-Match: $ETAG" -H 'Connection: close') ;;
  esac
  callgrind_control --zero "$PID" >/dev/null 2>&1
  callgrind_control --instr=on "$PID" >/dev/null 2>&1
  wrk -t1 -c10 -d"${DURATION}s" "${args[@]}" "$URL" >"$WORK/wrk.txt" 2>&1
  callgrind_control --instr=off "$PID" >/dev/null 2>&1
  callgrind_control --dump="$case" "$PID" >/dev/null 2>&1
  sleep 1
  requests="$(awk '/requests in/{print $1}' "$WORK/wrk.txt")"
  dump=""
  for f in "$OUT"/callgrind.out.*; do
    if [ -z "$dump" ] || [ "$f" -nt "$dump" ]; then dump="$f"; fi
  done
  mv "$dump" "$OUT/callgrind.$case"
  total="$(callgrind_annotate "$OUT/callgrind.$case" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}')"
  {
    echo "### $case: $requests requests, $total Ir, $(( total / (requests > 0 ? requests : 1) )) Ir/request"
    echo
    echo "Inclusive (top 40):"
    callgrind_annotate --inclusive=yes --threshold=100 "$OUT/callgrind.$case" 2>/dev/null |
      grep -E '^ *[0-9,]+ ' | head -n 40
    echo
    echo "Self (top 25):"
    callgrind_annotate --threshold=100 "$OUT/callgrind.$case" 2>/dev/null |
      grep -E '^ *[0-9,]+ ' | head -n 25
    echo
  } >>"$OUT/summary.txt"
done
kill -TERM "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
PIDS=()
cat "$OUT/summary.txt"
echo "profile dumps and summary: $OUT" >&2
