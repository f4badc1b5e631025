# Shared parts of the scripts in bench/ and reliability/; sourced, never run:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"           (from bench/)
#   source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"  (from reliability/)
#
# Defines ROOT (the repository), BENCH (bench/), FEEDPUB (the release binary, honouring
# CARGO_TARGET_DIR), QUICK=0, BUILD=1, KEEP=0, PIDS=(), and the functions below. The calling
# script keeps `set -euo pipefail` and its own header comment, which --help prints.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the scripts that source this

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
FEEDPUB="$TARGET_DIR/release/feedpub"
QUICK=0
# The User-Agent the load generators send: a feed aggregator's, 64 bytes (a real poll always
# has one, and the access log and the statistics read it).
READER_AGENT="Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers)"
BUILD=1
KEEP=0
PIDS=()

log() { echo "== $*" >&2; }
die() { echo "$*" >&2; exit 1; }

# usage: prints the script's header comment (the comment lines after the shebang).
usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

# parse_options "$@": the command line. Before calling it the script sets COMMON_OPTIONS to
# the common options it takes, from
#   --quick (QUICK=1, then the script's quick_defaults function if it has one, so that later
#   options still override), --rounds N (ROUNDS), --duration SECS (DURATION),
#   --no-build (BUILD=0), --keep (KEEP=1: keep the work folder);
# -h/--help (print usage, exit 0) is always taken. The script's own options go to its
# own_option function, if it has one: it handles the option at the front of its arguments,
# sets OPT_SHIFT to the number of words used when that is not 1, and returns 1 when it does
# not know the option. An option nobody knows exits 2.
COMMON_OPTIONS=""
parse_options() {
  while [ $# -gt 0 ]; do
    OPT_SHIFT=1
    if declare -F own_option >/dev/null && own_option "$@"; then
      :
    elif [[ " $COMMON_OPTIONS -h --help " == *" $1 "* ]]; then
      case "$1" in
        --quick) QUICK=1; if declare -F quick_defaults >/dev/null; then quick_defaults; fi ;;
        --rounds) ROUNDS="$2"; OPT_SHIFT=2 ;;
        --duration) DURATION="$2"; OPT_SHIFT=2 ;;
        --no-build) BUILD=0 ;;
        --keep) KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
      esac
    else
      echo "unknown option: $1 (see $0 --help)" >&2
      exit 2
    fi
    shift "$OPT_SHIFT"
  done
}

# need_tools CMD:PACKAGE...: installs, with one quiet non-interactive apt-get, the Debian
# packages whose command is missing. CMD is a name looked up in PATH and in /usr/sbin (nginx
# lives there, outside a normal user's PATH), or an absolute path (/usr/bin/time: `time` is
# also a shell keyword).
need_tools() {
  local pair cmd need=()
  for pair in "$@"; do
    cmd="${pair%%:*}"
    if [[ "$cmd" == /* ]]; then
      [ -x "$cmd" ] && continue
    else
      command -v "$cmd" >/dev/null && continue
      [ -x "/usr/sbin/$cmd" ] && continue
    fi
    need+=("${pair#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# build_release: cargo build --release --locked of the feedpub binary, with the extra flags
# in CARGO_FLAGS (unless --no-build), then checks that $FEEDPUB exists.
CARGO_FLAGS=()
build_release() {
  if [ "$BUILD" = 1 ]; then
    log "cargo build --release --locked"
    (cd "$ROOT" && cargo build --release --locked --bin feedpub "${CARGO_FLAGS[@]}")
  fi
  [ -x "$FEEDPUB" ] || die "missing $FEEDPUB (run without --no-build)"
}

# build_minimal: the same for bench/minimal, the minimal hyper server, in its own target
# folder; sets MINIMAL to its binary (which the caller checks, if it needs it).
MINIMAL="$BENCH/minimal/target/release/feedpub-bench-minimal"
build_minimal() {
  if [ "$BUILD" = 1 ]; then
    log "cargo build --release --locked (bench/minimal, own target dir)"
    CARGO_TARGET_DIR="$BENCH/minimal/target" \
      cargo build --release --locked --manifest-path "$BENCH/minimal/Cargo.toml"
  fi
}

# work_folder NAME: makes WORK=/tmp/feedpub-NAME.XXXXXX and sets the traps: at exit, every
# PID in PIDS gets SIGTERM and is waited for, and WORK is removed unless --keep; Ctrl-C and
# SIGTERM exit 130 through the same path. Not to be called in $(...), which is a subshell.
work_folder() {
  WORK="$(mktemp -d "/tmp/feedpub-$1.XXXXXX")"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then echo "work folder kept: $WORK" >&2; else rm -rf "$WORK"; fi
}

# private_copy PATH NAME: copies a binary into WORK and prints the copy's path. Other builds
# may replace target/release/* while a script runs (and perf must resolve symbols against
# the binary that ran).
private_copy() {
  cp "$1" "$WORK/$2"
  echo "$WORK/$2"
}

# free_ports N: prints N distinct free TCP ports on 127.0.0.1, separated by spaces.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_http200 URL SECONDS [PID [LOG...]]: polls URL every 0.1 s until it answers 200. Exits
# (printing the LOG files) when PID has died, or when SECONDS have passed.
wait_http200() {
  local url="$1" secs="$2" pid="${3:-}" i
  shift $(($# > 2 ? 3 : 2))
  for ((i = 0; i < secs * 10; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      [ $# -eq 0 ] || cat "$@" >&2 || true
      die "the server of $url exited"
    fi
    sleep 0.1
  done
  [ $# -eq 0 ] || cat "$@" >&2 || true
  die "$url did not answer 200 within $secs s"
}

# The stamp of bench/gen_corpus.py: a corpus made by another version is made again.
GEN_STAMP="$(sha256sum "$BENCH/gen_corpus.py" | cut -c1-16)"

# corpus N: prints the folder of the N-article corpus (its articles in DIR/articles),
# generating it into /tmp/feedpub-corpus-N (seed 1) when missing or stale; shared by the
# scripts, so that each size is generated once.
corpus() {
  local n="$1" dir="/tmp/feedpub-corpus-$1"
  if stale "$dir"; then
    log "generating $n articles into $dir"
    rm -rf "$dir"
    python3 "$BENCH/gen_corpus.py" -n "$n" --out "$dir/articles" --seed 1
    stamp "$dir"
  fi
  echo "$dir"
}

# stale DIR: whether DIR was not made by this version of bench/gen_corpus.py (or not at all).
stale() { [ "$(cat "$1/.stamp" 2>/dev/null)" != "$GEN_STAMP" ]; }

# stamp DIR: marks DIR as made by this version of bench/gen_corpus.py.
stamp() { echo "$GEN_STAMP" >"$1/.stamp"; }

# warm DIR: reads every file of DIR once, so that a measurement starts with the page cache warm.
warm() { find "$1" -type f -exec cat {} + >/dev/null; }

# cpu_ticks PID: the process's user + system CPU time, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# status_mb PID KEY: a /proc/PID/status figure in kB (VmRSS, VmHWM), printed in MB.
status_mb() { awk -v k="$2:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# wait_site_checked LOG COUNT PID [SECONDS]: waits until LOG holds more than COUNT "output
# folder updated" lines (`feedpub serve` has checked its site on disk and brought it up to
# date; a debug line of feedpub::serve). Fails when PID ends first or SECONDS (default 3600)
# pass.
wait_site_checked() {
  local tries=$((${4:-3600} * 10))
  for _ in $(seq 1 "$tries"); do
    [ "$(grep -c 'output folder updated' "$1" || true)" -gt "$2" ] && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# settle PID: waits until the process's CPU time has not moved for two seconds (a server
# copies its site to the output folder in the background after its first answer).
settle() {
  local last now same=0
  last="$(cpu_ticks "$1")"
  while [ "$same" -lt 4 ]; do
    sleep 0.5
    now="$(cpu_ticks "$1")"
    if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last="$now"; fi
  done
}
