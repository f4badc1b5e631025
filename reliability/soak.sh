#!/usr/bin/env bash
# Soak test: two `feedpub serve` processes (release build) on one articles folder, one plain
# HTTP and one TLS (a self-signed certificate made here), under 200 polling readers from
# 127.0.0.2-127.0.0.20 with aggregator and direct-reader User-Agents, conditional and
# unconditional GETs, a few HTTP/2 polls (curl) over TLS, and a writer that adds, edits,
# re-scrapes and deletes Markdown and scraped articles, English and Persian, every few
# seconds. Every 5 minutes the access logs are rotated and both servers get SIGHUP; every
# 10 minutes a synthetic access log of another mirror is imported with `feedpub stats import`
# into the plain server's database; every 15 s /metrics is scraped with the admin token.
# Records responses, 5xx, malformed responses, duplicate, vanished and re-identified items
# seen by readers that keep state, p50/p99 latency (plain and TLS), each server's RSS and
# open descriptors every 10 s, the machine's load, and compares /stats.json with what the
# readers and the imported log did. Fails on any 5xx, malformed response, duplicate,
# vanished or re-identified item, statistics that disagree, or growth. See soak.py.
#
#   reliability/soak.sh [--minutes N] [--readers N] [--quick-cycles] [--no-build] [--keep]
#                                      (default 30 minutes, 200 readers)
#
# --quick-cycles: SIGHUP and an import every minute, for short runs.
# The report is printed and kept in reliability/results/soak-<date>.md. Not part of
# `cargo test`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"

MINUTES=30
READERS=200
CYCLES=()
COMMON_OPTIONS="--no-build --keep"
own_option() {
  case "$1" in
    --minutes) MINUTES=$2; OPT_SHIFT=2 ;;
    --readers) READERS=$2; OPT_SHIFT=2 ;;
    --quick-cycles) CYCLES=(--sighup-secs 60 --import-secs 60) ;;
    *) return 1 ;;
  esac
}
ARGS="$*"
parse_options "$@"

need_tools openssl:openssl curl:curl
CARGO_FLAGS=(--quiet)
build_release
work_folder soak
# Other builds may replace target/release/feedpub while the soak runs.
BIN=$(private_copy "$FEEDPUB" feedpub)

mkdir -p "$WORK/articles"
cp seeds/* "$WORK/articles/"
# 100 more scraped-format articles, so the feeds have a realistic size.
for i in $(seq 1 100); do
  printf 'Print  Send to Friend\n\n1 June 2019\n\nSoak base story %s\n\nA paragraph of the base story %s, long enough to look like news.\n\nAnother paragraph.\n\n%s:%02d - 2019/06/01 / number : %s / Show Count : 1\n' \
    "$i" "$i" $((i % 24)) $((i % 60)) $((400000 + i)) > "$WORK/articles/base_$i.txt"
done

# A self-signed certificate for 127.0.0.1 and localhost; the TLS readers trust it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

read -r PLAIN_PORT TLS_PORT <<<"$(free_ports 2)"
ID_PREFIX="tag:soak.invalid,2026:article:"
MAX_ITEMS=50
# The admin tokens reach soak.py through its environment, never its command line.
SOAK_PLAIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
SOAK_TLS_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export SOAK_PLAIN_TOKEN SOAK_TLS_TOKEN
# config NAME PORT TOKEN [EXTRA LINES]: one server's configuration; each server has its own
# output folder, statistics database, access log and token, and both read one folder.
config() {
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/feedpub.toml" <<TOML
title = "Soak"
articles = "../articles"
output = "feeds"
addr = "127.0.0.1:$2"
timezone = "Asia/Tehran"
language = "en"
languages = ["en", "fa"]
id_prefix = "$ID_PREFIX"
max_items = $MAX_ITEMS
access_log = "access.log"
stats_db = "stats.sqlite"
admin_token = "$3"
$4
TOML
}
config plain "$PLAIN_PORT" "$SOAK_PLAIN_TOKEN" ""
config tls "$TLS_PORT" "$SOAK_TLS_TOKEN" "tls_cert = \"../cert.pem\"
tls_key = \"../key.pem\""

start_server() {
  (cd "$WORK/$1" && RUST_LOG=warn exec "$BIN" serve --config feedpub.toml >serve.out 2>serve.log) &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    grep -q serving "$WORK/$1/serve.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q serving "$WORK/$1/serve.out" || { cat "$WORK/$1/serve.log" >&2; die "the $1 server did not start"; }
  echo "$pid"
}
# Not $(start_server ...): PIDS must be set in this shell for the trap.
start_server plain >"$WORK/plain.pid"
PLAIN_PID=$(cat "$WORK/plain.pid")
start_server tls >"$WORK/tls.pid"
TLS_PID=$(cat "$WORK/tls.pid")

mkdir -p reliability/results
REPORT="reliability/results/soak-$(date -u +%Y%m%dT%H%MZ).md"
{
  echo "# Soak, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "\`reliability/soak.sh $ARGS\` at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.lock || echo ', src changed'); $(nproc) cores; \`uptime\`: $(uptime)"
} | tee "$REPORT"
set +e
python3 reliability/soak.py --work "$WORK" --feedpub "$BIN" --articles "$WORK/articles" \
  --plain "127.0.0.1:$PLAIN_PORT" --plain-pid "$PLAIN_PID" \
  --tls "127.0.0.1:$TLS_PORT" --tls-pid "$TLS_PID" --cafile "$WORK/cert.pem" \
  --id-prefix "$ID_PREFIX" --max-items "$MAX_ITEMS" \
  --minutes "$MINUTES" --readers "$READERS" "${CYCLES[@]}" | tee -a "$REPORT"
rc=${PIPESTATUS[0]}
set -e
for name in plain tls; do
  pid=$(cat "$WORK/$name.pid")
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the $name server died during the soak" | tee -a "$REPORT"; rc=1
  fi
  {
    echo
    echo "$name server log lines at WARN or above: $(grep -c -E 'WARN|ERROR' "$WORK/$name/serve.log" || true)"
    grep -E 'WARN|ERROR' "$WORK/$name/serve.log" | sed -E 's/^[^ ]+ +//' | cut -c1-200 | sort | uniq -c | sort -rn | head -10 | sed 's/^/    /'
  } | tee -a "$REPORT" || true
done
echo "report: $REPORT"
exit "$rc"
