#!/usr/bin/env bash
# Slow and many clients against the `feedpub serve` release binary: 1,000 connections that
# send their request head one byte per second (slowloris) and 10,000 idle keep-alive
# connections, while a reader fetches /rss.xml on a fresh connection every 100 ms; prints
# the reader's latency (p50/p99/max, must stay under 100 ms), and the server's RSS and
# open descriptors from /proc before, during and after.
#
#   reliability/slow_clients.sh [--slowloris N] [--idle N] [--hold SECONDS] [--rounds N]
#
# Needs RLIMIT_NOFILE of at least 12,000 (the test raises its soft limit to the hard one).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"
export FEEDPUB_SLOWLORIS=1000 FEEDPUB_IDLE=10000 FEEDPUB_HOLD_SECS=10 FEEDPUB_ROUNDS=4
own_option() {
  case "$1" in
    --slowloris) FEEDPUB_SLOWLORIS=$2; OPT_SHIFT=2 ;;
    --idle) FEEDPUB_IDLE=$2; OPT_SHIFT=2 ;;
    --hold) FEEDPUB_HOLD_SECS=$2; OPT_SHIFT=2 ;;
    --rounds) FEEDPUB_ROUNDS=$2; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
ulimit -n "$(ulimit -Hn)" || true
# The light version first (in-process server, 200 + 1,000), then the heavy one.
cargo test --release --test hostile_http slowloris -- --include-ignored --nocapture --test-threads=1 2>&1 \
  | grep -E "slow-clients:|^test |panicked|test result"
