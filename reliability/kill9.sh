#!/usr/bin/env bash
# kill -9 loop: `feedpub build` and `feedpub serve` on a 300-article corpus while a writer
# edits articles, SIGKILLed at a random moment of each run (build and serve alternate).
# After every kill, every *.xml under the output folder must be well-formed XML and every
# *.json valid JSON; hidden temporary files (.NAME.*.tmp) are counted.
#
#   reliability/kill9.sh [--iterations N]     (default 150)
#
# It runs the loop of tests/faults.rs (`kill_9_during_build_and_serve_never_leaves_a_broken_feed`,
# 20 iterations in `cargo test`) with more iterations, against the release build.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"
ITERATIONS=150
own_option() {
  case "$1" in
    --iterations) ITERATIONS=$2; OPT_SHIFT=2 ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
FEEDPUB_KILL9_ITERATIONS=$ITERATIONS cargo test --release --test faults \
  kill_9_during_build_and_serve_never_leaves_a_broken_feed -- --exact --nocapture 2>&1 \
  | grep -E "^kill -9:|^test |panicked|after kill|test result"
