#!/usr/bin/env bash
# A million distinct readers against the statistics and polite polling of the release
# `feedpub serve`: every poll an unconditional GET of /rss.xml from a new (address, User-
# Agent) pair, addresses spread over 127.0.0.0/8 (10 User-Agents per address, on one
# keep-alive connection), with `min_poll_interval_secs = 60` and statistics on. Samples
# the server's resident memory every second and prints it against the caps the code
# documents (polite polling: `polite::MAX_CLIENTS` clients; statistics: the queue of
# `recorder::QUEUE` polls and `store::MAX_BATCH_KEYS` keys per batch), with the polls
# served, refused and recorded.
#
#   reliability/many_readers.sh [--readers N] [--connections N] [--timeout SECONDS]
#                               [--no-build] [--keep]
#
# Defaults: 1,000,000 readers, 64 connections at a time, at most 1,800 s. Loopback only;
# the server is stopped at the end. Needs python3.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"
READERS=1000000
CONNECTIONS=64
TIMEOUT=1800
COMMON_OPTIONS="--no-build --keep"
own_option() {
  case "$1" in
    --readers) READERS=$2; OPT_SHIFT=2 ;;
    --connections) CONNECTIONS=$2; OPT_SHIFT=2 ;;
    --timeout) TIMEOUT=$2; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
need_tools python3:python3 curl:curl
build_release
work_folder many-readers
BIN="$(private_copy "$FEEDPUB" feedpub)"
TOKEN="many-readers-token-0123456789"
mkdir -p "$WORK/articles"
# One short article: small feeds, so that the client, not the bytes, sets the pace.
cp "$ROOT/tests/fixtures/articles/corpus/$(ls "$ROOT/tests/fixtures/articles/corpus" | grep -v '^zz_bad' | grep '\.txt$' | head -1)" "$WORK/articles/"
PORT="$(free_ports 1)"
cat >"$WORK/feedpub.toml" <<EOF
articles = "$WORK/articles"
output = "$WORK/feeds"
addr = "127.0.0.1:$PORT"
min_poll_interval_secs = 60
admin_token = "$TOKEN"
stats_db = "$WORK/stats.sqlite"
EOF
RUST_LOG=warn "$BIN" serve --config "$WORK/feedpub.toml" >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER=$!
PIDS+=("$SERVER")
wait_http200 "http://127.0.0.1:$PORT/healthz" 30 "$SERVER" "$WORK/server.log"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status"; }
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$SERVER/status"; }
# Warm: a few polls, then the baseline.
for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PORT/rss.xml"; done
sleep 2
BASE=$(rss)
log "server $SERVER on port $PORT, RSS $BASE KiB; $READERS readers"
(
  while kill -0 "$SERVER" 2>/dev/null; do
    echo "$SECONDS $(rss) $(hwm)"
    sleep 1
  done
) >"$WORK/rss.txt" 2>/dev/null &
SAMPLER=$!
PIDS+=("$SAMPLER")
started=$SECONDS
CLIENT_STATUS=0
timeout "$TIMEOUT" python3 - "$PORT" "$READERS" "$CONNECTIONS" >"$WORK/client.txt" <<'EOF' || CLIENT_STATUS=$?
import asyncio, sys, time
port, readers, connections = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
PER_ADDRESS = 10
counts = {}
errors = 0
progress = []
start = time.monotonic()

def address(a):
    a += 1  # 127.0.0.1 upwards
    return "127.%d.%d.%d" % ((a >> 16) & 255, (a >> 8) & 255, a & 255)

async def reader_group(a):
    global errors
    first = a * PER_ADDRESS
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(address(a), 0))
    except OSError:
        errors += PER_ADDRESS
        return
    try:
        for i in range(first, min(first + PER_ADDRESS, readers)):
            w.write(("GET /rss.xml HTTP/1.1\r\nHost: x\r\nUser-Agent: reader-%d/1.0 (many readers)\r\n"
                     "Accept-Encoding: br\r\n\r\n" % i).encode())
            head = await r.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await r.readexactly(length)
            counts[status] = counts.get(status, 0) + 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors += 1
    finally:
        w.close()

async def worker(queue):
    while True:
        a = await queue.get()
        if a is None:
            return
        await reader_group(a)

async def main():
    queue = asyncio.Queue(maxsize=4 * connections)
    workers = [asyncio.create_task(worker(queue)) for _ in range(connections)]
    groups = (readers + PER_ADDRESS - 1) // PER_ADDRESS
    for a in range(groups):
        await queue.put(a)
        if a % 10000 == 0:
            done = sum(counts.values())
            print("progress %.0f s %d polls" % (time.monotonic() - start, done), flush=True)
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)

asyncio.run(main())
elapsed = time.monotonic() - start
total = sum(counts.values())
print("polls %d in %.0f s (%.0f/s); statuses %s; errors %d; addresses %d"
      % (total, elapsed, total / elapsed, dict(sorted(counts.items())), errors,
         (readers + PER_ADDRESS - 1) // PER_ADDRESS))
EOF
LOAD_SECS=$((SECONDS - started))
END=$(rss)
sleep 20
IDLE=$(rss)
PEAK=$(hwm)
METRICS="$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics" \
  | grep -E '^feedpub_(refused_polls_total|stats_dropped|polite)' || true)"
kill -TERM "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
kill "$SAMPLER" 2>/dev/null || true
RECORDED="$(python3 - "$WORK/stats.sqlite" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
polls, rows = c.execute("SELECT coalesce(sum(polls),0), count(*) FROM direct").fetchone()
dropped = c.execute("SELECT coalesce(sum(polls),0) FROM dropped").fetchone()[0]
ok = c.execute("PRAGMA integrity_check").fetchone()[0]
print("recorded %d polls as %d direct rows; %d counted as dropped; integrity_check %s" % (polls, rows, dropped, ok))
EOF
)"
DB_BYTES=$(du -b "$WORK/stats.sqlite" | cut -f1)
cat "$WORK/client.txt"
echo "client exit $CLIENT_STATUS; load ran $LOAD_SECS s"
echo "server RSS KiB: start $BASE, end of load $END, after 20 s idle $IDLE, peak (VmHWM) $PEAK"
echo "RSS samples (s rss hwm), every 30th:"
awk 'NR % 30 == 1' "$WORK/rss.txt"
echo "$RECORDED; database $DB_BYTES bytes"
echo "metrics: ${METRICS:-none}"
echo "server warnings: $(grep -c -E 'WARN|ERROR' "$WORK/server.log" || true); panics: $(grep -c panicked "$WORK/server.log" || true)"
grep -E 'WARN|ERROR' "$WORK/server.log" | head -5 || true
echo "load: $(uptime | sed 's/.*load average: //')"
