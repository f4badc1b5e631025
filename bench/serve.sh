#!/usr/bin/env bash
# Serve benchmark: feedpub serve vs nginx (sendfile + gzip_static) vs a minimal hyper server,
# all serving the same ~100 KB rss.xml, measured with wrk side by side in alternating rounds.
#
#   bench/serve.sh            3 rounds x {identity, gzip, 304, 304-close} x {-c50, -c200} x 10 s
#                             (304-close: a 304 on a new connection per poll, `Connection:
#                             close`, as most feed readers poll)
#   bench/serve.sh --quick    1 round, -c50, -d2s (CI smoke: fails when a server misbehaves)
#   bench/serve.sh --stats    also feedpub-stats: feedpub with subscriber statistics on, side by
#                             side with feedpub (statistics off), to measure what recording costs
#   bench/serve.sh --ops      also feedpub-ops: feedpub with the access log and polite polling
#                             on (304 case only: polite polling refuses wrk's unconditional
#                             repeats by design), to measure what those paths cost
#   bench/serve.sh --baseline BIN   also feedpub-base: another feedpub binary (an older
#                             commit's) with feedpub's configuration, in every case
#
# Options: --rounds N, --duration SECS, --conns "50 200", --cases "identity gzip 304", --stats,
# --no-build, --keep (leave the work folder in /tmp for inspection). Servers are pinned to
# core 0 (single tokio worker, one nginx worker), wrk to core 1.
# Results: bench/results/serve-*.{tsv,md}.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3
DURATION=10
CONNS="50 200"
TARGET_BYTES=102400
STATS=0
OPS=0
BASELINE=""
CASES_WANTED="identity gzip 304 304-close"
COMMON_OPTIONS="--quick --rounds --duration --no-build --keep"
quick_defaults() { ROUNDS=1; DURATION=2; CONNS="50"; }
own_option() {
  case "$1" in
    --conns) CONNS="$2"; OPT_SHIFT=2 ;;
    --stats) STATS=1 ;;
    --ops) OPS=1 ;;
    --baseline) BASELINE="$2"; OPT_SHIFT=2 ;;
    --cases) CASES_WANTED="$2"; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"

# --- tools -------------------------------------------------------------------------------
need_tools wrk:wrk nginx:nginx curl:curl taskset:util-linux gzip:gzip
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
NCPU="$(nproc)"
if [ "$NCPU" -ge 2 ]; then SERVER_CPU=0; CLIENT_CPU=1; else SERVER_CPU=0; CLIENT_CPU=0; fi

# --- builds ------------------------------------------------------------------------------
build_release
build_minimal
[ -x "$MINIMAL" ] || die "missing $MINIMAL (run without --no-build)"

# --- work folder, process bookkeeping ----------------------------------------------------
work_folder serve
chmod 755 "$WORK"
FEEDPUB="$(private_copy "$FEEDPUB" feedpub)"
MINIMAL="$(private_copy "$MINIMAL" minimal)"
read -r P_NGINX P_FEEDPUB P_MINIMAL P_STATS P_OPS P_BASE <<<"$(free_ports 6)"

# --- corpus and feed ---------------------------------------------------------------------
N=1000
log "corpus: $N synthetic articles"
python3 "$BENCH/gen_corpus.py" -n "$N" --out "$WORK/articles" --seed 1
write_config() {
  cat >"$WORK/feedpub.toml" <<EOF
title = "feedpub bench"
description = "Synthetic articles for bench/serve.sh"
base_url = "http://127.0.0.1:$P_FEEDPUB"
site_url = "https://police-news.example.org/en"
language = "en"
timezone = "Asia/Tehran"
id_prefix = "tag:bench.example,2024:article:"
articles = "articles"
output = "feeds"
max_items = $1
cache_max_age = 300
rescan_interval_secs = 3600
stats = false
EOF
}
build_feed() {
  write_config "$1"
  "$FEEDPUB" build --config "$WORK/feedpub.toml" >/dev/null
  stat -c %s "$WORK/feeds/rss.xml"
}
# Calibrate max_items so that rss.xml is ~100 KB.
size="$(build_feed 20)"
MAX_ITEMS=$(( (20 * TARGET_BYTES + size / 2) / size ))
[ "$MAX_ITEMS" -ge 1 ] || MAX_ITEMS=1
size="$(build_feed "$MAX_ITEMS")"
gzip -9 -k -f "$WORK/feeds/rss.xml"
GZ_SIZE="$(stat -c %s "$WORK/feeds/rss.xml.gz")"
chmod -R a+rX "$WORK"
log "rss.xml: $size bytes with max_items = $MAX_ITEMS; rss.xml.gz (gzip -9): $GZ_SIZE bytes"

# --- nginx -------------------------------------------------------------------------------
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    etag on;
    gzip off;
    gzip_static on;
    gzip_vary on;
    # Keep connections as long as hyper does (nginx's default closes one every 1000 requests).
    keepalive_requests 1000000000;
    keepalive_timeout 65s;
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 3600s;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    types { application/rss+xml xml; }
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/rss+xml;
    server {
        listen 127.0.0.1:$P_NGINX;
        root $WORK/feeds;
        location / {
            add_header Cache-Control "public, max-age=300";
            add_header X-Content-Type-Options nosniff;
        }
    }
}
EOF
"$NGINX" -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/test.log" || { cat "$WORK/nginx/test.log" >&2; exit 1; }

log "starting servers on core $SERVER_CPU: nginx :$P_NGINX, feedpub :$P_FEEDPUB, minimal :$P_MINIMAL"
taskset -c "$SERVER_CPU" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)
NGINX_MASTER=$!
# feedpub serve writes its own output folder; nginx's stays untouched.
sed -i 's/^output = .*/output = "serve-out"/' "$WORK/feedpub.toml"
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" \
  "$FEEDPUB" serve --config "$WORK/feedpub.toml" --addr "127.0.0.1:$P_FEEDPUB" >"$WORK/feedpub.log" 2>&1 &
PIDS+=($!)
declare -A SPID=([feedpub]=$!)
if [ "$STATS" = 1 ]; then
  # The same server with statistics on: its own output folder and database. Every request of
  # the benchmark is a poll (one client address and User-Agent), so each one is recorded.
  sed -e 's/^output = .*/output = "serve-out-stats"/' -e 's/^stats = false/stats = true\nstats_db = "stats.sqlite"/' \
    "$WORK/feedpub.toml" >"$WORK/feedpub-stats.toml"
  TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" \
    "$FEEDPUB" serve --config "$WORK/feedpub-stats.toml" --addr "127.0.0.1:$P_STATS" >"$WORK/feedpub-stats.log" 2>&1 &
  PIDS+=($!)
  SPID[feedpub-stats]=$!
fi
if [ "$OPS" = 1 ]; then
  # The access log to a file, polite polling on, the metrics token set.
  sed -e 's/^output = .*/output = "serve-out-ops"/' "$WORK/feedpub.toml" >"$WORK/feedpub-ops.toml"
  printf 'access_log = "access.log"\nmin_poll_interval_secs = 60\nadmin_token = "bench-metrics-token-0123456789"\n' >>"$WORK/feedpub-ops.toml"
  TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" \
    "$FEEDPUB" serve --config "$WORK/feedpub-ops.toml" --addr "127.0.0.1:$P_OPS" >"$WORK/feedpub-ops.log" 2>&1 &
  PIDS+=($!)
  SPID[feedpub-ops]=$!
fi
if [ -n "$BASELINE" ]; then
  BASELINE="$(private_copy "$BASELINE" feedpub-base)"
  # An older binary may not know every key of this configuration: the ones it rejects go.
  sed -e 's/^output = .*/output = "serve-out-base"/' -e "${BASELINE_DROP:-/^$/d}" "$WORK/feedpub.toml" >"$WORK/feedpub-base.toml"
  TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" \
    "$BASELINE" serve --config "$WORK/feedpub-base.toml" --addr "127.0.0.1:$P_BASE" >"$WORK/feedpub-base.log" 2>&1 &
  PIDS+=($!)
  SPID[feedpub-base]=$!
fi
TOKIO_WORKER_THREADS=1 taskset -c "$SERVER_CPU" \
  "$MINIMAL" "127.0.0.1:$P_MINIMAL" "$WORK/feeds/rss.xml" "$WORK/feeds/rss.xml.gz" >"$WORK/minimal.log" 2>&1 &
PIDS+=($!)
SPID[minimal]=$!

declare -A URL=(
  [nginx]="http://127.0.0.1:$P_NGINX/rss.xml"
  [feedpub]="http://127.0.0.1:$P_FEEDPUB/rss.xml"
  [minimal]="http://127.0.0.1:$P_MINIMAL/rss.xml"
)
SERVERS=(nginx minimal feedpub)
if [ "$STATS" = 1 ]; then
  URL[feedpub-stats]="http://127.0.0.1:$P_STATS/rss.xml"
  SERVERS+=(feedpub-stats)
fi
if [ "$OPS" = 1 ]; then
  URL[feedpub-ops]="http://127.0.0.1:$P_OPS/rss.xml"
  SERVERS+=(feedpub-ops)
fi
if [ -n "$BASELINE" ]; then
  URL[feedpub-base]="http://127.0.0.1:$P_BASE/rss.xml"
  SERVERS+=(feedpub-base)
fi
wait_http200 "${URL[nginx]}" 30 "$NGINX_MASTER" "$WORK/nginx/logs/error.log"
wait_http200 "${URL[minimal]}" 30 "${SPID[minimal]}" "$WORK/minimal.log"
wait_http200 "${URL[feedpub]}" 30 "${SPID[feedpub]}" "$WORK/feedpub.log"
if [ "$STATS" = 1 ]; then
  wait_http200 "${URL[feedpub-stats]}" 30 "${SPID[feedpub-stats]}" "$WORK/feedpub-stats.log"
fi
for s in feedpub-ops feedpub-base; do
  if [ -n "${URL[$s]:-}" ]; then wait_http200 "${URL[$s]}" 30 "${SPID[$s]}" "$WORK/$s.log"; fi
done

# The process whose CPU time is charged to each server: nginx's single worker.
SPID[nginx]="$(pgrep -P "$NGINX_MASTER" | head -n 1 || true)"
[ -n "${SPID[nginx]}" ] || { echo "no nginx worker found" >&2; exit 1; }
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { # utime + stime of a whole process (all threads), in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# --- checks: same bytes, gzip works, each server's own ETag gives 304 ---------------------
declare -A ETAG
sha() { sha256sum | cut -c1-16; }
want="$(sha <"$WORK/feeds/rss.xml")"
for s in "${SERVERS[@]}"; do
  if [ "$s" = feedpub-ops ]; then
    # Polite polling answers this checker's repeats 429: one unconditional request for the
    # ETag (from its own User-Agent), then the 304.
    ETAG[$s]="$(curl -fsS -A bench-check -o /dev/null -D - -H 'Accept-Encoding: gzip' "${URL[$s]}" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')"
    code="$(curl -sS -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: ${ETAG[$s]}" "${URL[$s]}")"
    [ "$code" = 304 ] || { echo "$s answered $code, not 304, to its own ETag ${ETAG[$s]}" >&2; exit 1; }
    continue
  fi
  got="$(curl -fsS "${URL[$s]}" | sha)"
  [ "$got" = "$want" ] || { echo "$s serves different bytes than feeds/rss.xml ($got != $want)" >&2; exit 1; }
  enc="$(curl -fsS -o /dev/null -D - -H 'Accept-Encoding: gzip' "${URL[$s]}" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding"{print $2}')"
  [ "$enc" = "gzip" ] || { echo "$s did not answer gzip to Accept-Encoding: gzip (got '$enc')" >&2; exit 1; }
  got="$(curl -fsS -H 'Accept-Encoding: gzip' "${URL[$s]}" | gzip -dc | sha)"
  [ "$got" = "$want" ] || { echo "$s: gzip body does not decompress to rss.xml" >&2; exit 1; }
  ETAG[$s]="$(curl -fsS -o /dev/null -D - -H 'Accept-Encoding: gzip' "${URL[$s]}" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')"
  [ -n "${ETAG[$s]}" ] || { echo "$s sent no ETag" >&2; exit 1; }
  code="$(curl -sS -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: ${ETAG[$s]}" "${URL[$s]}")"
  [ "$code" = 304 ] || { echo "$s answered $code, not 304, to its own ETag ${ETAG[$s]}" >&2; exit 1; }
  log "$s ok: same bytes, gzip, 304 on ETag ${ETAG[$s]}"
done
gz_sizes=""
for s in "${SERVERS[@]}"; do
  [ "$s" != feedpub-ops ] || continue
  gz_sizes+="$s=$(curl -fsS -H 'Accept-Encoding: gzip' "${URL[$s]}" | wc -c) "
done
log "gzip body sizes: $gz_sizes"

# --- measurement -------------------------------------------------------------------------
mkdir -p "$BENCH/results"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
TSV="$BENCH/results/serve-$STAMP.tsv"
MD="$BENCH/results/serve-$STAMP.md"
echo "# round case conns server rps p50_us p99_us cpu_us_per_request" >"$TSV"
read -r -a CASES <<<"$CASES_WANTED"
run_wrk() { # server case conns -> "rps p50 p99 bad sockerr requests cpu_us_per_request"
  local s="$1" case="$2" c="$3" args=() t0 t1 parsed requests
  # A reader's User-Agent, as every real poll has (the access log and statistics read it).
  args=(-H "User-Agent: $READER_AGENT")
  case "$case" in
    gzip) args+=(-H 'Accept-Encoding: gzip') ;;
    304) args+=(-H 'Accept-Encoding: gzip' -H "If-None-Match: ${ETAG[$s]}") ;;
    # How most feed readers poll: one connection per poll, closed after the answer.
    304-close) args+=(-H 'Accept-Encoding: gzip' -H "If-None-Match: ${ETAG[$s]}" -H 'Connection: close') ;;
  esac
  t0="$(cpu_ticks "${SPID[$s]}")"
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --latency "${args[@]}" "${URL[$s]}" >"$WORK/wrk.out" 2>&1
  t1="$(cpu_ticks "${SPID[$s]}")"
  parsed="$(python3 "$BENCH/wrk_table.py" parse "$WORK/wrk.out")"
  requests="${parsed##* }"
  echo "$parsed $(python3 -c "print('%.2f' % (($t1 - $t0) * 1e6 / $CLK_TCK / max($requests, 1)))")"
}
log "load: $(cut -d' ' -f1-3 /proc/loadavg) before measuring; $ROUNDS round(s) x ${#CASES[@]} cases x ($CONNS) conns x ${#SERVERS[@]} servers x ${DURATION}s"
failures=0
for round in $(seq 1 "$ROUNDS"); do
  for case in "${CASES[@]}"; do
    for c in $CONNS; do
      # Rotate the order of servers every round so none always runs first.
      order=()
      n=${#SERVERS[@]}
      for ((i = 0; i < n; i++)); do order+=("${SERVERS[$(( (i + round + ${#case}) % n ))]}"); done
      for s in "${order[@]}"; do
        if [ "$s" = feedpub-ops ] && [ "${case%-close}" != 304 ]; then continue; fi
        read -r rps p50 p99 bad sockerr _requests cpu <<<"$(run_wrk "$s" "$case" "$c")"
        if [ "$bad" != 0 ] || [ "$sockerr" != 0 ]; then
          echo "!! $s $case c$c: $bad non-2xx/3xx responses, $sockerr socket errors" >&2
          failures=$((failures + 1))
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$case" "$c" "$s" "$rps" "$p50" "$p99" "$cpu" >>"$TSV"
        printf '   round %s %-8s c%-3s %-7s %10.0f req/s  p50 %8.0f us  p99 %8.0f us  cpu %6.1f us/req\n' "$round" "$case" "$c" "$s" "$rps" "$p50" "$p99" "$cpu" >&2
      done
    done
  done
done

{
  echo "## bench/serve.sh $STAMP"
  echo
  echo "rss.xml $size bytes (max_items = $MAX_ITEMS of $N articles), gzip -9 $GZ_SIZE bytes;"
  echo "wrk -t1 -d${DURATION}s --latency on core $CLIENT_CPU; servers on core $SERVER_CPU; load after run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  python3 "$BENCH/wrk_table.py" table "$TSV" --targets
} | tee "$MD"
echo "results: $TSV, $MD" >&2
if [ "$failures" != 0 ]; then
  echo "$failures run(s) had errors" >&2
  exit 1
fi
