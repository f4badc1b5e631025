#!/usr/bin/env bash
# kill -9 loops against the release build. One of:
#
#   reliability/kill9.sh [--iterations N]
#       `feedpub build` and `feedpub serve` on a 300-article corpus while a writer edits
#       articles, SIGKILLed at a random moment of each run (build and serve alternate). After
#       every kill, every *.xml under the output folder must be well-formed XML and every
#       *.json valid JSON; hidden temporary files (.NAME.*.tmp) are counted. 150 by default.
#       (tests/faults.rs, `kill_9_during_build_and_serve_never_leaves_a_broken_feed`, 20
#       iterations in `cargo test`.)
#
#   reliability/kill9.sh --build-10k [--articles N] [--iterations N]
#       `feedpub build` of a 10,000-article corpus (every tenth Markdown with tags) while a
#       writer toggles articles between two versions and removes and adds others, SIGKILLed
#       at a random moment within a build's duration, until N builds (100 by default) were
#       killed (a build that ends first is not counted). After every kill: every file a web
#       server would serve is whole (XML parses, JSON parses, pages end in </html>, each .gz
#       and .br decompresses to a whole file of its kind) and temporary files have hidden
#       names; after every other kill a build runs to its end, and then the manifest names
#       exactly the site's files and every variant equals its plain file.
#       (tests/faults_ops.rs, 200 articles and 3 kills in `cargo test`.)
#
#   reliability/kill9.sh --stats [--iterations N]
#       `feedpub serve` with statistics on while 4 readers poll, each poll a new (address
#       in 127.70.0.0-127.77.255.255, User-Agent) pair, SIGKILLed at a random moment; after
#       every kill the database opens, `PRAGMA integrity_check` is `ok`, the figures are
#       never lower than right before the kill, and the polls lost are at most a batch and
#       the queue the writer holds in memory; kills that found polls answered 2.5 s earlier
#       not written yet are counted. 100 by default. (tests/faults_ops.rs, 3 kills in `cargo test`.)
#
# Each loop prints one summary line. Everything runs on loopback, in its own process
# group, which is killed on exit; the run is bounded by --timeout SECONDS (default: 60 s
# per iteration plus 10 minutes).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"
MODE=mixed
ITERATIONS=""
ARTICLES=10000
TIMEOUT=""
own_option() {
  case "$1" in
    --iterations) ITERATIONS=$2; OPT_SHIFT=2 ;;
    --build-10k) MODE=build ;;
    --stats) MODE=stats ;;
    --articles) ARTICLES=$2; OPT_SHIFT=2 ;;
    --timeout) TIMEOUT=$2; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
case "$MODE" in
  mixed)
    ITERATIONS=${ITERATIONS:-150}
    export FEEDPUB_KILL9_ITERATIONS=$ITERATIONS
    TEST=(--test faults kill_9_during_build_and_serve_never_leaves_a_broken_feed) ;;
  build)
    ITERATIONS=${ITERATIONS:-100}
    export FEEDPUB_KILL9_BUILD_ITERATIONS=$ITERATIONS FEEDPUB_KILL9_BUILD_ARTICLES=$ARTICLES
    TEST=(--test faults_ops kill_9_during_a_large_build_leaves_every_served_file_whole_and_the_manifest_true) ;;
  stats)
    ITERATIONS=${ITERATIONS:-100}
    export FEEDPUB_KILL9_STATS_ITERATIONS=$ITERATIONS
    TEST=(--test faults_ops kill_9_during_statistics_writes_keeps_the_database_whole_and_the_figures_monotonic) ;;
esac
TIMEOUT=${TIMEOUT:-$((ITERATIONS * 60 + 600))}
log "cargo test --release ${TEST[*]} ($ITERATIONS iterations, at most $TIMEOUT s)"
cargo test --release --locked "${TEST[@]:0:2}" --no-run 2>&1 | grep -E "^error" && exit 1
# In a process group of its own, so that the servers and builds it starts are stopped with
# it, whatever happens.
started=$SECONDS
setsid cargo test --release --locked "${TEST[@]}" -- --exact --nocapture \
  >"${TMPDIR:-/tmp}/feedpub-kill9.$$.log" 2>&1 &
GROUP=$!
stop_group() { kill -KILL -- "-$GROUP" 2>/dev/null || true; rm -f "${TMPDIR:-/tmp}/feedpub-kill9.$$.log"; }
trap stop_group EXIT
trap 'exit 130' INT TERM
status=0
while kill -0 "$GROUP" 2>/dev/null; do
  if ((SECONDS - started > TIMEOUT)); then
    echo "timed out after $TIMEOUT s" >&2
    status=124
    break
  fi
  sleep 1
done
[ "$status" = 0 ] && { wait "$GROUP" || status=$?; }
grep -E "^kill -9|^test |panicked|after kill|after the build|^  left|^ right|test result" "${TMPDIR:-/tmp}/feedpub-kill9.$$.log" || true
echo "wall time: $((SECONDS - started)) s; load: $(uptime | sed 's/.*load average: //')"
exit "$status"
