#!/usr/bin/env bash
# Slowloris over TLS against the `feedpub serve` release binary: N connections (default
# 1,000) that finish the TLS handshake and then send their request head one byte a second,
# plus N/4 that send half a ClientHello and stall, while a normal reader polls /rss.xml over
# TLS, one new connection (full handshake) every 50 ms. Prints the reader's latency
# (p50/p99/max) without and then with the slow clients, how many slow connections the server
# held and closed, and its resident memory and descriptors; the report is kept in
# reliability/results/tls-slowloris-<date>.md. Loopback only; stops what it starts.
#
#   reliability/tls_slowloris.sh [--connections N] [--seconds S] [--no-build] [--keep]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"
CONNECTIONS=1000
SECONDS_UNDER=30
COMMON_OPTIONS="--no-build --keep"
own_option() {
  case "$1" in
    --connections) CONNECTIONS=$2; OPT_SHIFT=2 ;;
    --seconds) SECONDS_UNDER=$2; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
need_tools openssl:openssl
ulimit -n "$(ulimit -Hn)" || true
CARGO_FLAGS=(--quiet)
build_release
work_folder tls-slowloris
BIN=$(private_copy "$FEEDPUB" feedpub)

mkdir -p "$WORK/articles"
cp seeds/* "$WORK/articles/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
PORT=$(free_ports 1)
cat >"$WORK/feedpub.toml" <<TOML
articles = "articles"
output = "feeds"
addr = "127.0.0.1:$PORT"
tls_cert = "cert.pem"
tls_key = "key.pem"
stats = false
TOML
(cd "$WORK" && RUST_LOG=warn exec "$BIN" serve --config feedpub.toml >serve.out 2>serve.log) &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 1 100); do
  grep -q serving "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
grep -q serving "$WORK/serve.out" || { cat "$WORK/serve.log"; echo "server did not start" >&2; exit 1; }

mkdir -p reliability/results
REPORT="reliability/results/tls-slowloris-$(date -u +%Y%m%dT%H%MZ).md"
{
  echo "# Slowloris over TLS, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "\`reliability/tls_slowloris.sh --connections $CONNECTIONS --seconds $SECONDS_UNDER\`; 2 cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  python3 - "$PORT" "$SERVER_PID" "$WORK/cert.pem" "$CONNECTIONS" "$SECONDS_UNDER" <<'PY'
import asyncio, multiprocessing, os, ssl, sys, time

port, pid, cafile, n, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False

def proc(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
def fds():
    return len(os.listdir(f"/proc/{pid}/fd"))

async def one_poll():
    start = time.perf_counter()
    r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    w.write(b"GET /rss.xml HTTP/1.1\r\nHost: localhost\r\nUser-Agent: NetNewsWire (RSS Reader; https://netnewswire.com/)\r\nConnection: close\r\n\r\n")
    data = await r.read()
    w.close()
    ok = data.startswith(b"HTTP/1.1 200") and b"</rss>" in data
    return time.perf_counter() - start, ok

async def reader(duration):
    lat, bad, end = [], 0, time.perf_counter() + duration
    while time.perf_counter() < end:
        try:
            t, ok = await asyncio.wait_for(one_poll(), 10)
            lat.append(t)
            bad += not ok
        except Exception:
            bad += 1
        await asyncio.sleep(0.05)
    return lat, bad

held = {"tls": 0, "closed": 0, "failed": 0, "hello": 0}

async def again(client, stop):
    # A slowloris opens a new connection as soon as the server closes one.
    while not stop.is_set():
        if not await client(stop):
            await asyncio.sleep(0.5)

async def slow_tls(stop):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    except Exception:
        held["failed"] += 1
        return False
    held["tls"] += 1
    head = b"GET /rss.xml HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 4000
    try:
        for byte in head:
            if stop.is_set():
                break
            w.write(bytes([byte]))
            await w.drain()
            try:
                if await asyncio.wait_for(r.read(1), 1.0) == b"":
                    held["closed"] += 1
                    return True
            except asyncio.TimeoutError:
                pass
    except Exception:
        held["closed"] += 1
        return True
    w.close()
    return True

async def half_hello(stop):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except Exception:
        held["failed"] += 1
        return False
    held["hello"] += 1
    # A TLS record header announcing 512 bytes of handshake, and only 5 of them.
    w.write(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03]))
    try:
        while not stop.is_set():
            try:
                if await asyncio.wait_for(r.read(1), 1.0) == b"":
                    held["closed"] += 1
                    return True
            except asyncio.TimeoutError:
                pass
    except Exception:
        held["closed"] += 1
        return True
    w.close()
    return True

async def slow_phase(duration):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(again(slow_tls, stop)) for _ in range(n)]
    tasks += [asyncio.create_task(again(half_hello, stop)) for _ in range(n // 4)]
    await asyncio.sleep(duration)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

def run_slow(duration, results):
    asyncio.run(slow_phase(duration))
    results.put(dict(held))

async def main():
    def row(name, lat, bad):
        ms = sorted(x * 1000 for x in lat)
        p = lambda q: ms[min(len(ms) - 1, int(round((len(ms) - 1) * q)))] if ms else float("nan")
        print(f"| {name} | {len(lat)} | {bad} | {p(0.5):.1f} ms | {p(0.99):.1f} ms | {max(ms) if ms else float('nan'):.1f} ms | {proc('VmRSS')} MB | {fds()} |")
    print("| phase | polls | failed | p50 | p99 | max | server VmRSS after | server descriptors after |")
    print("|---|---|---|---|---|---|---|---|")
    lat, bad = await reader(10)
    row("reader alone, 10 s", lat, bad)
    # The slow clients run in a process of their own, so that their handshakes never delay
    # the reader's event loop: what the reader measures is the server.
    results = multiprocessing.Queue()
    slow = multiprocessing.Process(target=run_slow, args=(seconds + 3, results))
    slow.start()
    await asyncio.sleep(3)
    lat, bad = await reader(seconds)
    row(f"reader beside {n} slow TLS heads + {n // 4} half hellos, {seconds:.0f} s", lat, bad)
    held.update(results.get())
    slow.join()
    await asyncio.sleep(2)
    lat, bad = await reader(5)
    row("reader after, 5 s", lat, bad)
    print()
    print(f"slow connections: {held['tls']} finished the handshake, {held['hello']} sent half a hello, "
          f"{held['failed']} could not connect, {held['closed']} were closed by the server")
    sys.exit(1 if bad else 0)

asyncio.run(main())
PY
} | tee "$REPORT"
echo "report: $REPORT"
