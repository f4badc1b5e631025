#!/usr/bin/env bash
# Fuzzes the parsers and the server: the targets of fuzz/, each for --seconds (default
# 600), one after the other. Crashes and a sample of the minimized corpus are copied into
# tests/fixtures/fuzz/<target>/, where `cargo test` runs them on every build
# (tests/hostile_input.rs for article and markdown, tests/fuzz_replay.rs for the others).
#
#   reliability/fuzz.sh [--seconds N] [--keep N] [--jobs N] [TARGET...]
#
# Targets (all of them when none is named):
#   article     arbitrary bytes as a scraped text article (.txt)
#   markdown    arbitrary bytes as a Markdown article with front matter (.md)
#   user_agent  the User-Agent parser of the statistics (stats::agents)
#   logline     the combined-log-line parser of `stats import`, against the access log's lines
#   config      the configuration parser (Config::parse)
#   urls        the request-path parser and the path builders (urls::Route)
#   http_head   bytes from a client through hyper and the handler (http::server::serve_http1)
#
# Seeds: the articles and their fixtures; fuzz/seeds/<target>.txt (one input a line) and
# fuzz/seeds/<target>/ (one input a file); feedpub.toml; every path of feeds/; and what was
# kept before. Needs cargo-fuzz (installed here when missing) and uses RUSTC_BOOTSTRAP=1 so
# that the stable toolchain accepts the sanitizer flags.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
cd "$ROOT"

SECONDS_PER_TARGET=600
KEEP_INPUTS=25
JOBS=1
TARGETS=()
own_option() {
  case "$1" in
    --seconds) SECONDS_PER_TARGET=$2; OPT_SHIFT=2 ;;
    --keep) KEEP_INPUTS=$2; OPT_SHIFT=2 ;;
    --jobs) JOBS=$2; OPT_SHIFT=2 ;;
    article|markdown|user_agent|logline|config|urls|http_head) TARGETS+=("$1") ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(article markdown user_agent logline config urls http_head)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1

# Seed corpora: the real seeds, every article fixture, the seeds of fuzz/seeds/, and what was
# kept before.
for target in article markdown user_agent logline config urls http_head; do
  mkdir -p "fuzz/corpus/$target"
done
# seed TARGET FILE...: copies each file into TARGET's corpus (an existing one stays).
seed() {
  local target=$1 f
  shift
  for f in "$@"; do
    if [ -f "$f" ]; then cp -n "$f" "fuzz/corpus/$target/seed-$(basename "$f")" || true; fi
  done
}
# seed_lines TARGET: each line of fuzz/seeds/TARGET.txt as one input.
seed_lines() {
  local n=0 line
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    printf '%s' "$line" >"fuzz/corpus/$1/seed-line-$n"
  done <"fuzz/seeds/$1.txt"
}
seed article seeds/*.txt tests/fixtures/articles/*/*.txt
seed markdown seeds/*.md
for target in article markdown user_agent logline config urls http_head; do
  seed "$target" tests/fixtures/fuzz/"$target"/* fuzz/seeds/"$target"/*
  if [ -f "fuzz/seeds/$target.txt" ]; then seed_lines "$target"; fi
done
seed config feedpub.toml
# Every path the site serves, as `build` wrote it.
n=0
while read -r f; do
  n=$((n + 1))
  path="/${f#feeds/}"
  printf '%s' "${path%index.html}" >"fuzz/corpus/urls/seed-feeds-$n"
done < <(find feeds -type f ! -name '*.gz' ! -name '*.br' ! -name '_*' ! -name '.*' | sort)

# entries DIR [FIND TESTS...]: the entries of DIR that `ls DIR` lists (no dot files), one a line.
entries() { find "$1" -mindepth 1 -maxdepth 1 ! -name '.*' "${@:2}"; }

status=0
cd fuzz
cargo fuzz build
for target in "${TARGETS[@]}"; do
  echo "== fuzzing $target for ${SECONDS_PER_TARGET}s"
  log="$ROOT/fuzz/$target.log"
  set +e
  parallel=()
  # With -jobs, libFuzzer writes each job's output to fuzz-N.log instead.
  [ "$JOBS" -gt 1 ] && parallel=(-jobs="$JOBS" -workers="$JOBS")
  cargo fuzz run "$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -dict="dict/$target.dict" -print_final_stats=1 "${parallel[@]}" \
    >"$log" 2>&1
  rc=$?
  set -e
  cat "$log" fuzz-*.log 2>/dev/null | grep -E "^(stat::|#[0-9]+ *DONE|Done [0-9]+ runs)" | tail -12 || true
  dest="$ROOT/tests/fixtures/fuzz/$target"
  mkdir -p "$dest"
  found=0
  for artifact in artifacts/"$target"/*; do
    [ -f "$artifact" ] || continue
    cp "$artifact" "$dest/$(basename "$artifact")"
    echo "!! kept artifact $(basename "$artifact")"
    found=1
  done
  if [ $rc -ne 0 ] || [ $found -ne 0 ]; then
    echo "!! $target: libFuzzer exit $rc; see fuzz/$target.log and tests/fixtures/fuzz/$target/"
    status=1
  fi
  # Keep a sample of the minimized corpus: the inputs that reach the most distinct code.
  cargo fuzz cmin "$target" "corpus/$target" -- -max_len=16384 >/dev/null 2>&1 || true
  # Spread over sizes: every STEP-th input by size (largest first), at most --keep of them.
  # Inputs found by libFuzzer are named by their SHA-1: no spaces in the names.
  total=$(entries "corpus/$target" ! -name 'seed-*' | wc -l)
  step=$(( total / KEEP_INPUTS > 0 ? total / KEEP_INPUTS : 1 ))
  entries "corpus/$target" ! -name 'seed-*' -printf '%s %f\n' | sort -k1,1nr -k2,2 |
    awk -v s="$step" 'NR % s == 0 { print $2 }' | head -n "$KEEP_INPUTS" | while read -r name; do
    cp "corpus/$target/$name" "$dest/cov-${name:0:16}"
  done
  echo "   corpus: $(entries "corpus/$target" | wc -l) inputs after cmin; kept $(entries "$dest" -name 'cov-*' | wc -l) in tests/fixtures/fuzz/$target"
done
exit $status
