#!/usr/bin/env bash
# Fuzzes the article parsers: `article` (scraped .txt) and `markdown` (.md with front matter)
# targets of fuzz/, each for --seconds (default 600), one after the other. Crashes and a
# sample of the minimized corpus are copied into tests/fixtures/fuzz/<target>/, where
# `cargo test --test hostile_input` runs them on every build.
#
#   reliability/fuzz.sh [--seconds N] [--keep N] [--jobs N] [article] [markdown]
#
# Needs cargo-fuzz (installed here when missing) and uses RUSTC_BOOTSTRAP=1 so that the
# stable toolchain accepts the sanitizer flags.
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
    article|markdown) TARGETS+=("$1") ;;
    *) return 1 ;;
  esac
}
parse_options "$@"
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(article markdown)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1

# Seed corpora: the real seeds, every article fixture, and what was kept before.
mkdir -p fuzz/corpus/article fuzz/corpus/markdown
for f in seeds/*.txt tests/fixtures/articles/*/*.txt tests/fixtures/fuzz/article/*; do
  if [ -f "$f" ]; then cp -n "$f" "fuzz/corpus/article/seed-$(basename "$f")" || true; fi
done
for f in tests/fixtures/fuzz/markdown/*; do
  if [ -f "$f" ]; then cp -n "$f" "fuzz/corpus/markdown/seed-$(basename "$f")" || true; fi
done

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
