#!/usr/bin/env bash
# feedpub interop suite: real feed readers, a caching proxy and a browser against `feedpub serve`.
#
#   tests/interop/run.sh              install the tools, build, check both corpora, then self-test
#   tests/interop/run.sh --self-test  only the self-test: the same checks against broken feeds
#
# Environment:
#   FEEDPUB_BIN=PATH                use this binary instead of `cargo build --release`
#   INTEROP_CORPORA="seeds corpus"  the corpora to check (default: both; empty: none)
#   INTEROP_STATIC="nginx caddy plain"  the static servers to check (default: all three; empty: none)
#   INTEROP_STATS=0                 skip the subscriber statistics part (stats.sh)
#   INTEROP_SUBSCRIBERS=0           skip the subscriber checks (languages, direction, CORS, OPML, moves)
#   INTEROP_OPERATIONS=0            skip the operations checks (TLS, HTTP/2, metrics, access log)
#   INTEROP_NO_INSTALL=1            never call apt-get: fail when a tool is missing
#
# Prints one row per check (reader | check | PASS/FAIL) as it goes, the whole table at the end,
# and exits 1 when any check failed. Logs, fetched feeds and Chromium's screenshots are kept in
# tests/interop/out/ (git-ignored). See tests/interop/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
LOGS=$OUT/logs
PY=/usr/bin/python3 # Debian's python: python3-feedparser is installed for it
MAX_AGE=2           # cache_max_age of the servers under test, in seconds
ID_PREFIX="tag:interop.feedpub.test,2024:article:"
PACKAGES=(newsboat sfeed python3-feedparser jing libxml2-utils nginx libnginx-mod-http-brotli-static caddy brotli chromium sqlite3 curl python3-venv python3-pip openssl prometheus goaccess)

mode=full
case "${1:-}" in
"") ;;
--self-test) mode=self ;;
-h | --help)
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
*)
  echo "usage: $0 [--self-test]" >&2
  exit 2
  ;;
esac

SUITE_START=$SECONDS
rm -rf "$OUT"
mkdir -p "$LOGS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/feedpub-interop.XXXXXX")
chmod 755 "$WORK" # nginx's workers run as nobody when the suite runs as root

# ---------------------------------------------------------------------------------------------
# Processes: everything started in the background is recorded here and stopped on exit.

PIDS=()

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# stop_pid PID: SIGTERM, up to 10 s to exit, then SIGKILL. Returns the process's exit status.
stop_pid() {
  local pid=$1 rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  forget_pid "$pid"
  return "$rc"
}

cleanup() {
  local status=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "interop: $*" >&2
  exit 1
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------------------------
# Results

ROWS=()
PASSED=0
FAILED=0
N=0

row() { # READER CHECK STATUS
  ROWS+=("$1"$'\t'"$2"$'\t'"$3")
  if [[ $3 == PASS ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
  printf '%-10s | %-74s | %s\n' "$1" "$2" "$3"
}

# run_logged LOG CMD...: runs CMD in a subshell with errexit in force (so that a check function
# stops at its first failing command), output to LOG; sets RC to CMD's status. It must be called
# as a plain statement: inside an `if`, `||` or `&&`, bash would ignore errexit in CMD too.
run_logged() {
  local log=$1
  shift
  set +e
  (
    set -e
    "$@"
  ) >"$log" 2>&1
  RC=$?
  set -e
}

new_log() { # WORDS...: sets LOGFILE to a new numbered log file named after WORDS
  N=$((N + 1))
  LOGFILE=$(printf '%s/%03d-%s.log' "$LOGS" "$N" "$(printf '%s' "$*" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-80)")
}

show_log() {
  echo "           ---- $1 (last lines)"
  tail -n 25 "$1" | sed 's/^/           | /'
}

# check READER CHECK CMD...: one row, PASS when CMD exits 0.
check() {
  local reader=$1 name=$2 log
  shift 2
  new_log "$reader" "$name"
  log=$LOGFILE
  run_logged "$log" "$@"
  if ((RC == 0)); then
    row "$reader" "$name" PASS
  else
    row "$reader" "$name" FAIL
    show_log "$log"
  fi
}

# check_here READER CHECK CMD...: like check, but CMD runs in this shell (it may start or stop
# background processes, which must stay children of this shell). CMD must return non-zero
# explicitly on failure: errexit does not apply inside an `if`.
check_here() {
  local reader=$1 name=$2 log
  shift 2
  new_log "$reader" "$name"
  log=$LOGFILE
  if "$@" >"$log" 2>&1; then
    row "$reader" "$name" PASS
    return 0
  fi
  row "$reader" "$name" FAIL
  show_log "$log"
  return 1
}

# expect PASS|FAIL READER CHECK CMD...: a self-test row, PASS when CMD's outcome is the one named.
expect() {
  local want=$1 reader=$2 name=$3 log got
  shift 3
  new_log self "$reader" "$name"
  log=$LOGFILE
  run_logged "$log" "$@"
  if ((RC == 0)); then got=PASS; else got=FAIL; fi
  if [[ $got == "$want" ]]; then
    row "$reader" "[self-test] $name -> must $want" PASS
  else
    row "$reader" "[self-test] $name -> must $want" FAIL
    echo "           the check gave $got, not $want"
    show_log "$log"
  fi
}

# ---------------------------------------------------------------------------------------------
# Tools and build

install_tools() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    echo "interop: tools present (${PACKAGES[*]})"
    return
  fi
  [[ -z ${INTEROP_NO_INSTALL:-} ]] || die "missing packages: ${missing[*]} (INTEROP_NO_INSTALL is set)"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  echo "interop: installing ${missing[*]}"
  if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$LOGS/apt.log" 2>&1; then
    tail -n 20 "$LOGS/apt.log" >&2
    die "apt-get failed"
  fi
}

# feedparser-rs (PyPI) reads JSON Feed; it lives in a cached virtual environment.
JSON_VENV=${XDG_CACHE_HOME:-$HOME/.cache}/feedpub-interop/venv
JSON_PY=$JSON_VENV/bin/python
install_json_reader() {
  if [[ -x $JSON_PY ]] && "$JSON_PY" -c 'import feedparser_rs' 2>/dev/null; then
    return
  fi
  [[ -z ${INTEROP_NO_INSTALL:-} ]] || die "feedparser-rs is missing (INTEROP_NO_INSTALL is set)"
  echo "interop: installing feedparser-rs into $JSON_VENV"
  if ! { "$PY" -m venv "$JSON_VENV" && "$JSON_PY" -m pip install -q feedparser-rs; } >"$LOGS/pip.log" 2>&1; then
    tail -n 20 "$LOGS/pip.log" >&2
    die "installing feedparser-rs failed"
  fi
}

build_feedpub() {
  if [[ -n ${FEEDPUB_BIN:-} ]]; then
    [[ -x $FEEDPUB_BIN ]] || die "FEEDPUB_BIN=$FEEDPUB_BIN is not an executable"
    cp "$FEEDPUB_BIN" "$WORK/feedpub"
  else
    echo "interop: cargo build --release"
    if ! (cd "$ROOT" && cargo build --release --quiet) >"$LOGS/cargo-build.log" 2>&1; then
      tail -n 30 "$LOGS/cargo-build.log" >&2
      die "cargo build --release failed"
    fi
    # A copy: other builds may replace the binary in target/ while the suite runs.
    cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/feedpub" "$WORK/feedpub"
  fi
  FEEDPUB=$WORK/feedpub
}

write_config() {
  mkdir -p "$WORK/etc"
  cat >"$WORK/etc/feedpub.toml" <<EOF
# Written by tests/interop/run.sh for the servers under test.
title = "feedpub interop suite"
description = "Feeds served to real readers by tests/interop/run.sh"
site_url = "https://interop.feedpub.test"
language = "en"
timezone = "Asia/Tehran"
author = { name = "Interop desk", email = "desk@interop.feedpub.test" }
id_prefix = "$ID_PREFIX"
item_link = "{base_url}/articles/{id}.html"
max_items = 100
summary_chars = 300
max_article_bytes = 1048576
cache_max_age = $MAX_AGE
# nginx in front must revalidate once max-age has passed (the checks count the 304s), not
# answer from its stale copy while it does; stale-if-error stays at its default of a day.
stale_while_revalidate_secs = 0
debounce_ms = 100
rescan_interval_secs = 1
# Replicas share this file; the statistics part (stats.sh) records with a configuration of its own.
stats = false
EOF
}

# ---------------------------------------------------------------------------------------------
# Servers

declare -A URL PID LOG

# start_feedpub NAME ARTICLES OUT BASE_URL: `feedpub serve` on a port the system picks; sets
# URL[NAME], PID[NAME], LOG[NAME] (stderr, with RUST_LOG=feedpub=debug: one line per request).
# The configuration is the suite's, or the file FEEDPUB_CONFIG names; FEEDPUB_ADDR gives the
# address to listen on instead.
start_feedpub() {
  local name=$1 articles=$2 out=$3 base=$4 stdout=$WORK/$1.stdout
  LOG[$name]=$LOGS/feedpub-$name.log
  RUST_LOG=feedpub=debug "$FEEDPUB" serve --config "${FEEDPUB_CONFIG:-$WORK/etc/feedpub.toml}" --articles "$articles" \
    --out "$out" --addr "${FEEDPUB_ADDR:-127.0.0.1:0}" --base-url "$base" >"$stdout" 2>"${LOG[$name]}" </dev/null &
  PID[$name]=$!
  PIDS+=("${PID[$name]}")
  local addr=
  for _ in $(seq 150); do
    addr=$(sed -n 's|^feedpub is serving on \(https\{0,1\}://.*\)|\1|p' "$stdout")
    [[ -z $addr ]] || break
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $addr ]]; then
    echo "feedpub $name did not start:"
    cat "$stdout" "${LOG[$name]}"
    return 1
  fi
  URL[$name]=$addr
  echo "feedpub $name: ${URL[$name]} (pid ${PID[$name]})"
}

# start_static NAME DIR [--ignore-conditionals]: the self-test's tiny python server.
start_static() {
  local name=$1 dir=$2 stdout=$WORK/$1.stdout
  shift 2
  LOG[$name]=$LOGS/static-$name.log
  "$PY" "$HERE/lib/static_server.py" "$dir" --max-age "$MAX_AGE" "$@" >"$stdout" 2>"${LOG[$name]}" </dev/null &
  PID[$name]=$!
  PIDS+=("${PID[$name]}")
  local addr=
  for _ in $(seq 100); do
    addr=$(sed -n 's|^serving on http://||p' "$stdout")
    [[ -z $addr ]] || break
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $addr ]]; then
    echo "static server $name did not start:"
    cat "${LOG[$name]}"
    return 1
  fi
  URL[$name]=http://$addr
}

# start_nginx NAME PORT UPSTREAM_HOST:PORT...: nginx as a caching reverse proxy, in the
# foreground (daemon off) as a child of this script, everything under $WORK/nginx-NAME.
start_nginx() {
  local name=$1 port=$2 dir=$WORK/$1 servers="" upstream user=""
  shift 2
  for upstream in "$@"; do servers+="    server $upstream;"$'\n'; done
  mkdir -p "$dir/tmp" "$dir/cache"
  ((EUID != 0)) || user="user nobody nogroup;"
  LOG[$name]=$LOGS/$name-error.log
  cat >"$dir/nginx.conf" <<EOF
# Written by tests/interop/run.sh.
$user
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log ${LOG[$name]} info;
events { worker_connections 64; }
http {
  log_format cache '\$time_iso8601 "\$request" \$status upstream=\$upstream_addr upstream_status=\$upstream_status cache=\$upstream_cache_status';
  access_log $LOGS/$name-access.log cache;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  proxy_cache_path $dir/cache levels=1 keys_zone=feeds:1m max_size=16m inactive=10m use_temp_path=off;
  upstream feedpub {
$servers    keepalive 4;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://feedpub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_cache feeds;
      # Freshness comes from the upstream's Cache-Control (no proxy_cache_valid overrides it);
      # stale entries are revalidated with If-None-Match / If-Modified-Since.
      proxy_cache_revalidate on;
      proxy_cache_lock on;
      add_header X-Cache \$upstream_cache_status always;
    }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -e "${LOG[$name]}" </dev/null >>"$LOGS/$name-stdout.log" 2>&1 &
  PID[$name]=$!
  PIDS+=("${PID[$name]}")
  URL[$name]=http://127.0.0.1:$port
  for _ in $(seq 100); do
    curl -s -o /dev/null "${URL[$name]}/" && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "nginx $name did not start:"
  cat "${LOG[$name]}"
  return 1
}

# ---------------------------------------------------------------------------------------------
# HTTP helpers

tmpfile() { mktemp "$WORK/tmp.XXXXXX"; }

fetch() { curl -fsS --max-time 20 -o "$2" "$1"; } # URL FILE

header() { # FILE NAME: the value of a header in a `curl -D` dump
  grep -i "^$2:" "$1" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

etag_of() { # URL
  local h
  h=$(tmpfile)
  curl -fsS --max-time 10 -D "$h" -o /dev/null "$1"
  header "$h" etag
}

# wait_etag_change URL OLD [SECONDS]: polls until the ETag differs from OLD.
wait_etag_change() {
  local url=$1 old=$2 limit=${3:-15} now
  for _ in $(seq $((limit * 5))); do
    now=$(etag_of "$url" || true)
    if [[ -n $now && $now != "$old" ]]; then
      echo "ETag of $url: $old -> $now"
      return 0
    fi
    sleep 0.2
  done
  echo "ETag of $url still $old after ${limit}s"
  return 1
}

count_in_logs() { # PATTERN-PATH LOG...: lines of the logs naming PATH with status=304
  local path=$1
  shift
  cat "$@" | grep -F -- "$path" | grep -c 'status=304' || true
}

# ---------------------------------------------------------------------------------------------
# Check functions. Each takes URLs (and expected data), so that the same code runs against
# feedpub and against the broken feeds of the self-test. Each exits non-zero on failure.

chk_xmllint() { # URL
  local f
  f=$(tmpfile)
  fetch "$1" "$f"
  xmllint --noout "$f"
}

chk_jing() { # URL: valid against the RELAX NG grammar of RFC 4287 Appendix B
  local f
  f=$(tmpfile)
  fetch "$1" "$f"
  jing -c "$HERE/atom.rnc" "$f"
}

chk_zones() { # URL: every date element carries a zone
  local f
  f=$(tmpfile)
  fetch "$1" "$f"
  "$PY" "$HERE/lib/checks.py" zones "$f"
}

expected_args() { # BASE PREFIX EXPECTED...: checks.py's arguments
  local base=$1 prefix=$2 e
  shift 2
  printf '%s\n' --base "$base" --prefix "$prefix"
  for e in "$@"; do printf '%s\n' --expected "$e"; done
}

chk_sfeed() { # URL BASE PREFIX EXPECTED...
  local url=$1 f args
  shift
  f=$(tmpfile)
  fetch "$url" "$f"
  sfeed <"$f" >"$f.tsv"
  mapfile -t args < <(expected_args "$@")
  "$PY" "$HERE/lib/checks.py" sfeed "$f.tsv" "${args[@]}"
}

chk_fp_feed() { # URL BASE PREFIX EXPECTED...
  local url=$1 args
  shift
  mapfile -t args < <(expected_args "$@")
  "$PY" "$HERE/lib/checks.py" fp-feed "$url" "${args[@]}"
}

chk_fp_same() { "$PY" "$HERE/lib/checks.py" fp-same "$1" "$2"; } # RSS_URL ATOM_URL

chk_json_same() { "$JSON_PY" "$HERE/lib/jsonfeed.py" same "$1" "$2"; } # RSS_URL JSON_URL

chk_fp_304() { "$PY" "$HERE/lib/checks.py" fp-304 "$1"; } # URL

chk_conditional() { # URL: curl's If-None-Match and If-Modified-Since get 304; a stale tag 200
  local url=$1 h etag lm code
  h=$(tmpfile)
  curl -fsS --max-time 10 -D "$h" -o /dev/null "$url"
  etag=$(header "$h" etag)
  lm=$(header "$h" last-modified)
  echo "ETag: $etag; Last-Modified: $lm"
  [[ -n $etag && -n $lm ]] || {
    echo "missing ETag or Last-Modified"
    return 1
  }
  code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$url")
  echo "If-None-Match: $etag -> $code"
  [[ $code == 304 ]]
  code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$url")
  echo "If-Modified-Since: $lm -> $code"
  [[ $code == 304 ]]
  code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'If-None-Match: "stale-tag"' "$url")
  echo "If-None-Match: \"stale-tag\" -> $code"
  [[ $code == 200 ]]
}

# newsboat: one folder per newsboat profile: urls, cache.db, home/, and the cache exported
# with the sqlite3 tool as feeds.json / items.json (items.prev.json: the export before).
nb_new() { # DIR URL...
  local dir=$1
  shift
  rm -rf "$dir"
  mkdir -p "$dir/home"
  printf '%s\n' "$@" >"$dir/urls"
}

nb_reload() { # DIR
  local dir=$1
  [[ ! -f $dir/items.json ]] || cp "$dir/items.json" "$dir/items.prev.json"
  HOME=$dir/home XDG_CONFIG_HOME=$dir/home/.config XDG_DATA_HOME=$dir/home/.local/share \
    XDG_CACHE_HOME=$dir/home/.cache timeout -k 5 60 \
    newsboat -u "$dir/urls" -c "$dir/cache.db" -C /dev/null -x reload </dev/null
  sqlite3 -json "$dir/cache.db" "SELECT rssurl, title, etag, lastmodified FROM rss_feed" >"$dir/feeds.json"
  sqlite3 -json "$dir/cache.db" \
    "SELECT guid, title, url, feedurl, pubDate, content, deleted FROM rss_item ORDER BY id" >"$dir/items.json"
}

nb_feed_args() { # DIR: --feed URL for each subscribed URL
  local u
  while read -r u; do printf '%s\n' --feed "$u"; done <"$1/urls"
}

chk_newsboat() { # DIR each|merged BASE PREFIX EXPECTED...: reload, then compare the cache
  local dir=$1 mode=$2 feeds args merged=()
  shift 2
  nb_reload "$dir"
  mapfile -t feeds < <(nb_feed_args "$dir")
  mapfile -t args < <(expected_args "$@")
  [[ $mode == each ]] || merged=(--merged)
  "$PY" "$HERE/lib/checks.py" newsboat --feeds-json "$dir/feeds.json" --items-json "$dir/items.json" \
    "${feeds[@]}" "${merged[@]}" "${args[@]}"
}

chk_newsboat_delta() { # DIR GUID: the last reload added exactly GUID to each feed, removed nothing
  local dir=$1 feeds
  mapfile -t feeds < <(nb_feed_args "$dir")
  "$PY" "$HERE/lib/checks.py" newsboat-delta --before "$dir/items.prev.json" --after "$dir/items.json" \
    "${feeds[@]}" --new "$2"
}

chk_newsboat_content() { # DIR GUID TEXT: the item's stored content was updated to contain TEXT
  local dir=$1 feeds
  mapfile -t feeds < <(nb_feed_args "$dir")
  "$PY" "$HERE/lib/checks.py" newsboat-content --items-json "$dir/items.json" "${feeds[@]}" \
    --guid "$2" --text "$3"
}

chk_newsboat_304() { # DIR SERVER_LOG...: a reload with nothing changed is answered 304 per feed
  local dir=$1 before after want
  shift
  want=$(wc -l <"$dir/urls")
  # newsboat stores a feed's ETag and Last-Modified only from its second download on (at the
  # first, the feed's row does not exist yet when it tries): reload once more before measuring.
  nb_reload "$dir"
  before=$(count_in_logs / "$@")
  nb_reload "$dir"
  sleep 0.3
  after=$(count_in_logs / "$@")
  echo "304 answers in the server logs: $before -> $after (want +$want)"
  ((after - before >= want))
}

# Chromium, headless.
chromium_run() {
  local profile
  profile=$(mktemp -d "$WORK/chromium.XXXXXX")
  timeout -k 5 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$profile" "$@" </dev/null
}

chk_screenshot() { # URL PNG
  rm -f "$2"
  chromium_run --screenshot="$2" --window-size=1024,768 "$1"
  "$PY" "$HERE/lib/checks.py" png "$2" --width 1024 --height 768
}

chk_autodiscovery() { # URL
  local f
  f=$(tmpfile)
  chromium_run --dump-dom "$1" >"$f"
  "$PY" "$HERE/lib/checks.py" dom-autodiscovery "$f"
}

chk_rtl_page() { # URL
  local f
  f=$(tmpfile)
  chromium_run --dump-dom "$1" >"$f"
  "$PY" "$HERE/lib/checks.py" dom-rtl "$f"
}

# feedpub's own behaviour around the readers.
chk_log_has() { # LOG PATTERN: the server logged a line matching PATTERN (grep -E)
  grep -E -- "$2" "$1"
}

chk_log_clean() { # LOG...: no ERROR line and no panic in the server logs
  ! grep -E ' ERROR |panicked' "$@"
}

chk_sighup() { # NAME URL: SIGHUP regenerates (logged), the server keeps serving the same bytes
  local log=${LOG[$1]} url=$2 before after n
  before=$(etag_of "$url/rss.xml")
  n=$(grep -c 'SIGHUP' "$log" || true)
  kill -HUP "${PID[$1]}"
  for _ in $(seq 50); do
    (($(grep -c 'SIGHUP' "$log" || true) > n)) && break
    sleep 0.1
  done
  grep 'SIGHUP' "$log" | tail -n 1
  (($(grep -c 'SIGHUP' "$log" || true) > n))
  [[ $(curl -sS -o /dev/null -w '%{http_code}' "$url/healthz") == 200 ]]
  after=$(etag_of "$url/rss.xml")
  echo "rss.xml ETag $before -> $after"
  [[ $before == "$after" ]]
}

# Replicas and nginx.
chk_replicas() { # PATH URL_A URL_B: same ETag and same bytes, for identity and gzip
  local path=$1 a=$2 b=$3 enc ha hb ba bb
  for enc in identity gzip; do
    ha=$(tmpfile) hb=$(tmpfile) ba=$(tmpfile) bb=$(tmpfile)
    curl -fsS -H "Accept-Encoding: $enc" -D "$ha" -o "$ba" "$a$path"
    curl -fsS -H "Accept-Encoding: $enc" -D "$hb" -o "$bb" "$b$path"
    echo "$enc: A $(header "$ha" etag) B $(header "$hb" etag)" \
      "(Last-Modified, not compared: A $(header "$ha" last-modified), B $(header "$hb" last-modified))"
    [[ -n $(header "$ha" etag) && $(header "$ha" etag) == "$(header "$hb" etag)" ]]
    cmp "$ba" "$bb"
  done
}

nginx_get() { # URL HEADERS BODY: a GET through nginx; prints status and X-Cache
  curl -sS --max-time 20 -D "$2" -o "$3" "$1"
  echo "GET $1 -> $(head -n 1 "$2" | tr -d '\r'), X-Cache: $(header "$2" x-cache)"
}

chk_nginx_miss_hit() { # NGINX_URL DIRECT_URL: MISS then HIT, both with the upstream's bytes
  local h1 b1 h2 b2 direct
  h1=$(tmpfile) b1=$(tmpfile) h2=$(tmpfile) b2=$(tmpfile) direct=$(tmpfile)
  fetch "$2" "$direct"
  nginx_get "$1" "$h1" "$b1"
  [[ $(header "$h1" x-cache) == MISS ]]
  cmp "$b1" "$direct"
  nginx_get "$1" "$h2" "$b2"
  [[ $(header "$h2" x-cache) == HIT ]]
  cmp "$b2" "$direct"
}

chk_nginx_revalidate() { # NGINX_URL UPSTREAM_LOG...: once stale, nginx revalidates and gets 304
  local url=$1 h b h2 b2 before after path
  shift
  path=/${url#http://*/}
  h=$(tmpfile) b=$(tmpfile) h2=$(tmpfile) b2=$(tmpfile)
  nginx_get "$url" "$h" "$b" # cached now (MISS, HIT or REVALIDATED)
  before=$(count_in_logs "$path" "$@")
  sleep $((MAX_AGE + 1))
  nginx_get "$url" "$h2" "$b2"
  sleep 0.3
  after=$(count_in_logs "$path" "$@")
  echo "304 answers for $path in the upstream logs: $before -> $after"
  [[ $(header "$h2" x-cache) == REVALIDATED ]]
  ((after > before))
  cmp "$b" "$b2"
}

chk_nginx_fresh() { # NGINX_URL DIRECT_URL: once max-age has passed, nginx serves the new bytes
  local h b direct
  h=$(tmpfile) b=$(tmpfile) direct=$(tmpfile)
  sleep $((MAX_AGE + 1))
  fetch "$2" "$direct"
  nginx_get "$1" "$h" "$b"
  cmp "$b" "$direct"
}

chk_nginx_stale() { # NGINX_URL COPY: with every upstream down and max-age passed, nginx still
  # answers 200 from its cache (X-Cache: STALE), the bytes it had: feedpub's stale-if-error
  local h b
  h=$(tmpfile) b=$(tmpfile)
  sleep $((MAX_AGE + 1))
  nginx_get "$1" "$h" "$b"
  grep -i '^cache-control' "$h"
  [[ $(header "$h" x-cache) == STALE ]]
  cmp "$b" "$2"
}

chk_nginx_follows() { # NGINX_URL DIRECT_URL: once an upstream is back, nginx serves its bytes
  # (within 20 s: nginx rests a failed upstream for its fail_timeout, 10 s, before it asks again)
  local h b direct
  h=$(tmpfile) b=$(tmpfile) direct=$(tmpfile)
  for i in $(seq 40); do
    fetch "$2" "$direct"
    nginx_get "$1" "$h" "$b"
    if cmp -s "$b" "$direct"; then
      echo "nginx serves the upstream's bytes after $((i / 2)) s"
      return 0
    fi
    sleep 0.5
  done
  return 1
}

chk_differs() { # URL FILE: the URL's bytes now differ from FILE's
  local now
  now=$(tmpfile)
  fetch "$1" "$now"
  ! cmp -s "$now" "$2"
}

chk_etag_changes() { # URL=OLD_ETAG...: every URL's ETag changes from its old value
  local pair
  for pair in "$@"; do wait_etag_change "${pair%%=*}" "${pair#*=}" 15; done
}

chk_etags_unchanged() { # SECONDS URL=ETAG...: after SECONDS, every URL still has its ETag
  local pair now
  sleep "$1"
  shift
  for pair in "$@"; do
    now=$(etag_of "${pair%%=*}")
    echo "${pair%%=*}: ${pair#*=} -> $now"
    [[ $now == "${pair#*=}" ]]
  done
}

chk_sigterm() { # NAME: SIGTERM makes the server exit 0 (runs in this shell: explicit returns)
  local rc=0
  stop_pid "${PID[$1]}" || rc=$?
  echo "exit status $rc"
  tail -n 3 "${LOG[$1]}"
  [[ $rc == 0 ]]
}

# ---------------------------------------------------------------------------------------------
# One corpus: two replicas of `feedpub serve` on a temporary copy, nginx in front, every reader.

# run_corpus NAME ARTICLES_DIR EXPECTED_TSV EDIT_FILE EDIT_ID PERSIAN_ID [REJECTED_FILE]
run_corpus() {
  local name=$1 src=$2 expected=$3 edit_file=$4 edit_id=$5 persian_id=$6 rejected=${7:-}
  local C=$WORK/$name tag="[$name]"
  mkdir -p "$C"
  cp -R "$src" "$C/articles"
  # Old modification times, except the losing scrape of a duplicate pair, which is made the
  # newest file: the scrape with the higher Show Count must win all the same.
  find "$C/articles" -type f -exec touch -d '2024-01-01 00:00:00 UTC' {} +
  [[ ! -f $C/articles/dup_2.txt ]] || touch "$C/articles/dup_2.txt"

  local nport base new_exp=$HERE/expected/new_article.tsv
  nport=$(free_port)
  base=http://127.0.0.1:$nport
  check_here feedpub "$tag serve: replica A starts on a free port" \
    start_feedpub "$name-a" "$C/articles" "$C/out-a" "$base" &&
    check_here feedpub "$tag serve: replica B starts (same corpus and --base-url)" \
      start_feedpub "$name-b" "$C/articles" "$C/out-b" "$base" ||
    return 0
  local la=${LOG[$name-a]} lb=${LOG[$name-b]}
  local a=${URL[$name-a]} b=${URL[$name-b]}
  local rss=$a/rss.xml atom=$a/atom.xml exp=("$base" "$ID_PREFIX" "$expected")
  local exp_new=("$base" "$ID_PREFIX" "$expected" "$new_exp")
  fetch "$rss" "$OUT/$name-rss.xml" || true
  fetch "$atom" "$OUT/$name-atom.xml" || true
  if [[ -n $rejected ]]; then
    check feedpub "$tag $rejected is reported as rejected (and not published)" \
      chk_log_has "$la" "rejected: .*/$rejected: "
  fi

  check xmllint "$tag rss.xml is well-formed XML" chk_xmllint "$rss"
  check xmllint "$tag atom.xml is well-formed XML" chk_xmllint "$atom"
  check jing "$tag atom.xml is valid against RFC 4287's RELAX NG grammar" chk_jing "$atom"
  check xpath "$tag rss.xml: every pubDate/lastBuildDate has a zone" chk_zones "$rss"
  check xpath "$tag atom.xml: every updated/published has a zone" chk_zones "$atom"
  check sfeed "$tag rss.xml: items, titles, UNIX times = expected" chk_sfeed "$rss" "${exp[@]}"
  check sfeed "$tag atom.xml: items, titles, UNIX times = expected" chk_sfeed "$atom" "${exp[@]}"
  check feedparser "$tag rss.xml: bozo 0; ids, links, titles, dates = expected" chk_fp_feed "$rss" "${exp[@]}"
  check feedparser "$tag atom.xml: bozo 0; ids, links, titles, dates = expected" chk_fp_feed "$atom" "${exp[@]}"
  check feedparser "$tag rss.xml and atom.xml give the same entries" chk_fp_same "$rss" "$atom"
  check feedparser-rs "$tag feed.json: JSON Feed 1.1 fields; same entries as rss.xml" chk_json_same "$rss" "$a/feed.json"
  check feedparser "$tag rss.xml: refetch with etag+modified gets 304" chk_fp_304 "$rss"
  check feedparser "$tag atom.xml: refetch with etag+modified gets 304" chk_fp_304 "$atom"
  check curl "$tag rss.xml: If-None-Match/If-Modified-Since 304, stale tag 200" chk_conditional "$rss"
  check curl "$tag atom.xml: If-None-Match/If-Modified-Since 304, stale tag 200" chk_conditional "$atom"
  check chromium "$tag index page screenshot: 1024x768 PNG, not blank" chk_screenshot "$a/" "$OUT/$name-index.png"
  check chromium "$tag index DOM has RSS and Atom autodiscovery links" chk_autodiscovery "$a/"
  check chromium "$tag Persian article page: <html lang=\"fa\" dir=...>" chk_rtl_page "$a/articles/$persian_id.html"
  check replicas "$tag rss.xml: same ETag and bytes on both replicas" chk_replicas /rss.xml "$a" "$b"
  check replicas "$tag atom.xml: same ETag and bytes on both replicas" chk_replicas /atom.xml "$a" "$b"

  local ngx=""
  if check_here nginx "$tag nginx starts as a caching proxy in front of both replicas" \
    start_nginx "nginx-$name" "$nport" "${a#http://}" "${b#http://}"; then
    ngx=$base
    check nginx "$tag rss.xml through nginx: MISS, then HIT, upstream's bytes" chk_nginx_miss_hit "$ngx/rss.xml" "$rss"
    check nginx "$tag atom.xml through nginx: MISS, then HIT, upstream's bytes" chk_nginx_miss_hit "$ngx/atom.xml" "$atom"
    check nginx "$tag stale rss.xml: nginx revalidates, feedpub answers 304" chk_nginx_revalidate "$ngx/rss.xml" "$la" "$lb"
  fi

  # newsboat: the RSS feed alone, the Atom feed alone, and both in one cache.
  local nb=$C/newsboat
  nb_new "$nb/rss" "$rss"
  nb_new "$nb/atom" "$atom"
  nb_new "$nb/both" "$rss" "$atom"
  check newsboat "$tag rss.xml alone: cache holds exactly the expected items" chk_newsboat "$nb/rss" each "${exp[@]}"
  check newsboat "$tag atom.xml alone: cache holds exactly the expected items" chk_newsboat "$nb/atom" each "${exp[@]}"
  check newsboat "$tag both subscribed: both feeds, expected items, no dup guid" chk_newsboat "$nb/both" merged "${exp[@]}"
  check newsboat "$tag unchanged reload is answered 304 (conditional GET)" chk_newsboat_304 "$nb/both" "$la"

  # A new article arrives.
  local old_rss old_atom new_guid=${ID_PREFIX}90201
  old_rss=$(etag_of "$rss") old_atom=$(etag_of "$atom")
  cp "$HERE/mutations/new_article.txt" "$C/articles/.new_article.txt.tmp"
  mv "$C/articles/.new_article.txt.tmp" "$C/articles/new_article.txt"
  check feedpub "$tag new article: both replicas' ETags change within 15 s" \
    chk_etag_changes "$rss=$old_rss" "$b/rss.xml=$old_rss"
  wait_etag_change "$atom" "$old_atom" 15 >/dev/null || true
  wait_etag_change "$b/atom.xml" "$old_atom" 15 >/dev/null || true
  check newsboat "$tag new article: rss.xml alone has exactly one new item" chk_newsboat "$nb/rss" each "${exp_new[@]}"
  check newsboat "$tag new article: rss.xml alone: the one new item is 90201" chk_newsboat_delta "$nb/rss" "$new_guid"
  check newsboat "$tag new article: atom.xml alone has exactly one new item" chk_newsboat "$nb/atom" each "${exp_new[@]}"
  check newsboat "$tag new article: atom.xml alone: the one new item is 90201" chk_newsboat_delta "$nb/atom" "$new_guid"
  check newsboat "$tag new article: both subscribed: expected items, no dup guid" chk_newsboat "$nb/both" merged "${exp_new[@]}"
  check feedparser "$tag new article: rss.xml = expected + the new item" chk_fp_feed "$rss" "${exp_new[@]}"
  check replicas "$tag new article: rss.xml identical on both replicas" chk_replicas /rss.xml "$a" "$b"
  check replicas "$tag new article: atom.xml identical on both replicas" chk_replicas /atom.xml "$a" "$b"
  if [[ -n $ngx ]]; then
    check nginx "$tag new article: after max-age, nginx serves the new rss.xml" chk_nginx_fresh "$ngx/rss.xml" "$rss"
    check nginx "$tag new article: after max-age, nginx serves the new atom.xml" chk_nginx_fresh "$ngx/atom.xml" "$atom"
  fi

  # The body of an existing article changes (a new scrape).
  local update="Update: this paragraph was added by a later scrape."
  old_rss=$(etag_of "$rss") old_atom=$(etag_of "$atom")
  "$PY" "$HERE/lib/mutate.py" body "$C/articles/$edit_file" "$update"
  check feedpub "$tag body edit of $edit_file: ETags change within 15 s" \
    chk_etag_changes "$rss=$old_rss" "$b/rss.xml=$old_rss"
  wait_etag_change "$atom" "$old_atom" 15 >/dev/null || true
  check newsboat "$tag body edit: rss.xml alone: same items, no duplicate" chk_newsboat "$nb/rss" each "${exp_new[@]}"
  check newsboat "$tag body edit: atom.xml alone: same items, no duplicate" chk_newsboat "$nb/atom" each "${exp_new[@]}"
  check newsboat "$tag body edit: both subscribed: same items, no duplicate" chk_newsboat "$nb/both" merged "${exp_new[@]}"
  check newsboat "$tag body edit: the item's stored content is updated" chk_newsboat_content "$nb/both" "$ID_PREFIX$edit_id" "$update"

  # Only the Show Count changes: nothing published changes.
  old_rss=$(etag_of "$rss") old_atom=$(etag_of "$atom")
  "$PY" "$HERE/lib/mutate.py" views "$C/articles/$edit_file"
  check feedpub "$tag Show Count change: ETags stay the same" chk_etags_unchanged 3 "$rss=$old_rss" "$atom=$old_atom"
  check newsboat "$tag Show Count change: rss.xml alone: no duplicate" chk_newsboat "$nb/rss" each "${exp_new[@]}"
  check newsboat "$tag Show Count change: atom.xml alone: no duplicate" chk_newsboat "$nb/atom" each "${exp_new[@]}"
  check newsboat "$tag Show Count change: both subscribed: no duplicate" chk_newsboat "$nb/both" merged "${exp_new[@]}"

  check feedpub "$tag SIGHUP: regenerates, keeps serving the same feed" chk_sighup "$name-a" "$a"
  local cached=$C/nginx-cached-rss.xml
  [[ -z $ngx ]] || fetch "$ngx/rss.xml" "$cached" || true
  check_here feedpub "$tag SIGTERM: replica A exits 0" chk_sigterm "$name-a" || true
  check_here feedpub "$tag SIGTERM: replica B exits 0" chk_sigterm "$name-b" || true
  check feedpub "$tag no ERROR and no panic in either replica's log" chk_log_clean "$la" "$lb"
  if [[ -n $ngx ]]; then
    # Both replicas are down: the cache in front keeps answering (stale-if-error), and follows
    # again once one is back.
    check nginx "$tag replicas stopped: after max-age nginx serves the stale rss.xml" \
      chk_nginx_stale "$ngx/rss.xml" "$cached"
    "$PY" "$HERE/lib/mutate.py" body "$C/articles/$edit_file" "Update: written while every replica was down."
    FEEDPUB_ADDR=${a#http://} check_here feedpub "$tag replica A starts again on its port" \
      start_feedpub "$name-a2" "$C/articles" "$C/out-a" "$base" || true
    check nginx "$tag restarted: nginx serves replica A's new rss.xml again" \
      chk_nginx_follows "$ngx/rss.xml" "$a/rss.xml"
    check nginx "$tag restarted: the bytes nginx serves are new" chk_differs "$ngx/rss.xml" "$cached"
    stop_pid "${PID[nginx-$name]}" || true
    check_here feedpub "$tag SIGTERM: restarted replica A exits 0" chk_sigterm "$name-a2" || true
  fi
  cp -R "$C/newsboat" "$OUT/$name-newsboat" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Self-test: the same check functions against deliberately broken feeds (tests/interop/broken/)
# must FAIL, and against the correct control feeds must PASS.

run_self_test() {
  local B=$HERE/broken tag
  check_here selftest "[self-test] python server for broken/ starts" start_static broken "$B" || return 0
  check_here selftest "[self-test] python server ignoring If-None-Match starts" \
    start_static deaf "$B/control" --ignore-conditionals || return 0
  local s=${URL[broken]} deaf=${URL[deaf]}
  local exp=(http://feeds.broken.test "tag:feeds.broken.test,2024:item:" "$B/expected.tsv")

  # The control feeds pass every check.
  tag=control
  expect PASS xmllint "$tag/rss.xml well-formed" chk_xmllint "$s/control/rss.xml"
  expect PASS xmllint "$tag/atom.xml well-formed" chk_xmllint "$s/control/atom.xml"
  expect PASS jing "$tag/atom.xml valid (RFC 4287)" chk_jing "$s/control/atom.xml"
  expect PASS xpath "$tag/rss.xml dates have zones" chk_zones "$s/control/rss.xml"
  expect PASS xpath "$tag/atom.xml dates have zones" chk_zones "$s/control/atom.xml"
  expect PASS sfeed "$tag/rss.xml = expected" chk_sfeed "$s/control/rss.xml" "${exp[@]}"
  expect PASS sfeed "$tag/atom.xml = expected" chk_sfeed "$s/control/atom.xml" "${exp[@]}"
  expect PASS feedparser "$tag/rss.xml = expected" chk_fp_feed "$s/control/rss.xml" "${exp[@]}"
  expect PASS feedparser "$tag/atom.xml = expected" chk_fp_feed "$s/control/atom.xml" "${exp[@]}"
  expect PASS feedparser "$tag rss = atom" chk_fp_same "$s/control/rss.xml" "$s/control/atom.xml"
  expect PASS feedparser-rs "$tag/feed.json = rss.xml" chk_json_same "$s/control/rss.xml" "$s/control/feed.json"
  expect FAIL feedparser-rs "json-no-id/feed.json = rss.xml" chk_json_same "$s/json-no-id/rss.xml" "$s/json-no-id/feed.json"
  expect PASS feedparser "$tag/rss.xml refetch gets 304" chk_fp_304 "$s/control/rss.xml"
  expect PASS curl "$tag/rss.xml conditional GET" chk_conditional "$s/control/rss.xml"
  local nb=$WORK/selftest-newsboat
  nb_new "$nb/control" "$s/control/rss.xml"
  expect PASS newsboat "$tag/rss.xml = expected" chk_newsboat "$nb/control" each "${exp[@]}"
  expect PASS newsboat "$tag/rss.xml unchanged reload gets 304" chk_newsboat_304 "$nb/control" "${LOG[broken]}"
  expect PASS chromium "$tag/index.html autodiscovery" chk_autodiscovery "$s/control/index.html"
  expect PASS chromium "$tag/persian.html lang=fa dir" chk_rtl_page "$s/control/persian.html"

  # A duplicate guid.
  tag=dup-guid
  expect FAIL sfeed "$tag/rss.xml = expected" chk_sfeed "$s/$tag/rss.xml" "${exp[@]}"
  expect FAIL sfeed "$tag/atom.xml = expected" chk_sfeed "$s/$tag/atom.xml" "${exp[@]}"
  expect FAIL feedparser "$tag/rss.xml = expected" chk_fp_feed "$s/$tag/rss.xml" "${exp[@]}"
  expect FAIL feedparser "$tag/atom.xml = expected" chk_fp_feed "$s/$tag/atom.xml" "${exp[@]}"
  nb_new "$nb/dup-rss" "$s/$tag/rss.xml"
  nb_new "$nb/dup-atom" "$s/$tag/atom.xml"
  expect FAIL newsboat "$tag/rss.xml = expected" chk_newsboat "$nb/dup-rss" each "${exp[@]}"
  expect FAIL newsboat "$tag/atom.xml = expected" chk_newsboat "$nb/dup-atom" each "${exp[@]}"

  # An Atom entry without an id.
  tag="atom-no-id"
  expect FAIL jing "$tag/atom.xml valid (RFC 4287)" chk_jing "$s/$tag/atom.xml"
  expect FAIL feedparser "$tag/atom.xml = expected" chk_fp_feed "$s/$tag/atom.xml" "${exp[@]}"
  expect FAIL sfeed "$tag/atom.xml = expected" chk_sfeed "$s/$tag/atom.xml" "${exp[@]}"

  # Dates without a zone.
  tag=date-no-zone
  expect FAIL xpath "$tag/rss.xml dates have zones" chk_zones "$s/$tag/rss.xml"
  expect FAIL xpath "$tag/atom.xml dates have zones" chk_zones "$s/$tag/atom.xml"
  expect FAIL feedparser "$tag/rss.xml = expected" chk_fp_feed "$s/$tag/rss.xml" "${exp[@]}"
  expect FAIL feedparser "$tag/atom.xml = expected" chk_fp_feed "$s/$tag/atom.xml" "${exp[@]}"
  expect FAIL sfeed "$tag/rss.xml = expected" chk_sfeed "$s/$tag/rss.xml" "${exp[@]}"

  # Not well-formed XML.
  tag=not-well-formed
  expect FAIL xmllint "$tag/rss.xml well-formed" chk_xmllint "$s/$tag/rss.xml"
  expect FAIL xmllint "$tag/atom.xml well-formed" chk_xmllint "$s/$tag/atom.xml"
  expect FAIL feedparser "$tag/rss.xml = expected" chk_fp_feed "$s/$tag/rss.xml" "${exp[@]}"

  # Pages without autodiscovery, and a Persian page without lang="fa"/dir.
  tag=html
  expect FAIL chromium "$tag/index.html autodiscovery" chk_autodiscovery "$s/$tag/index.html"
  expect FAIL chromium "$tag/persian.html lang=fa dir" chk_rtl_page "$s/$tag/persian.html"

  # A server that ignores If-None-Match and If-Modified-Since (always 200).
  tag=ignores-conditionals
  expect FAIL feedparser "$tag rss.xml refetch gets 304" chk_fp_304 "$deaf/rss.xml"
  expect FAIL curl "$tag rss.xml conditional GET" chk_conditional "$deaf/rss.xml"
  nb_new "$nb/deaf" "$deaf/rss.xml"
  nb_reload "$nb/deaf" >"$LOGS/selftest-newsboat-deaf-first.log" 2>&1 || true
  expect FAIL newsboat "$tag rss.xml unchanged reload gets 304" chk_newsboat_304 "$nb/deaf" "${LOG[deaf]}"

  # nginx in front of a correct server revalidates with 304; in front of the deaf one, not.
  local p1 p2
  p1=$(free_port)
  if check_here nginx "[self-test] nginx starts in front of the control server" \
    start_nginx nginx-selftest-good "$p1" "${s#http://}"; then
    expect PASS nginx "control: stale rss.xml revalidated with 304" \
      chk_nginx_revalidate "${URL[nginx-selftest-good]}/control/rss.xml" "${LOG[broken]}"
    stop_pid "${PID[nginx-selftest-good]}" || true
  fi
  p2=$(free_port)
  if check_here nginx "[self-test] nginx starts in front of the deaf server" \
    start_nginx nginx-selftest-deaf "$p2" "${deaf#http://}"; then
    expect FAIL nginx "$tag: stale rss.xml revalidated with 304" \
      chk_nginx_revalidate "${URL[nginx-selftest-deaf]}/rss.xml" "${LOG[deaf]}"
    stop_pid "${PID[nginx-selftest-deaf]}" || true
  fi
  stop_pid "${PID[broken]}" || true
  stop_pid "${PID[deaf]}" || true
}

# ---------------------------------------------------------------------------------------------
# Main

print_table() {
  local r reader name status
  echo
  echo "== feedpub interop suite: results"
  printf '%-10s | %-74s | %s\n' READER CHECK RESULT
  printf '%s\n' "-----------+----------------------------------------------------------------------------+-------"
  for r in "${ROWS[@]}"; do
    IFS=$'\t' read -r reader name status <<<"$r"
    printf '%-10s | %-74s | %s\n' "$reader" "$name" "$status"
  done
  echo
  echo "runtime: $((SECONDS - SUITE_START)) s; logs, feeds and screenshots: ${OUT#"$ROOT"/}/"
  echo "interop: $PASSED passed, $FAILED failed"
}

# shellcheck source=tests/interop/static.sh
source "$HERE/static.sh"
# shellcheck source=tests/interop/subscribers.sh
source "$HERE/subscribers.sh"
# shellcheck source=tests/interop/stats.sh
source "$HERE/stats.sh"
# shellcheck source=tests/interop/operations.sh
source "$HERE/operations.sh"

install_tools
install_json_reader
"$PY" "$HERE/expected/make_expected.py" --check || die "expected/*.tsv are stale: run tests/interop/expected/make_expected.py"

if [[ $mode == full ]]; then
  build_feedpub
  write_config
  for corpus in ${INTEROP_CORPORA-seeds corpus}; do
    echo
    echo "== corpus: $corpus"
    case $corpus in
    seeds) run_corpus seeds "$ROOT/seeds" "$HERE/expected/seeds.tsv" 001_aaab98506c840da6.txt 18234 21790 ;;
    corpus) run_corpus corpus "$HERE/corpus" "$HERE/expected/corpus.tsv" 004_crlf.txt 90104 90101 zz_rejected_no_date.txt ;;
    *) die "unknown corpus $corpus (seeds, corpus)" ;;
    esac
  done
  if [[ ${INTEROP_SUBSCRIBERS:-1} != 0 ]]; then
    echo
    echo "== what every subscriber sees: languages, direction, CORS, OPML, moves"
    run_subscribers
  fi
  echo
  echo "== static site: build output on nginx, Caddy and a stock nginx"
  static_config
  for server in ${INTEROP_STATIC-nginx caddy plain}; do
    for corpus in seeds corpus; do run_static "$server" "$corpus"; done
  done
  if [[ ${INTEROP_OPERATIONS:-1} != 0 ]]; then
    echo
    echo "== operations: TLS, HTTP/2, metrics, the access log"
    run_operations
  fi
  if [[ ${INTEROP_STATS:-1} != 0 ]]; then
    echo
    echo "== subscriber statistics: three readers, an nginx log, the /stats page"
    run_stats
  fi
fi
echo
echo "== self-test: the same checks against broken inputs"
run_self_test

print_table
((FAILED == 0 && PASSED > 0))
