#!/usr/bin/env bash
# Packaging checks, run by .ci/run: `cargo install --path .` installs a working binary, and
# `systemd-analyze verify` accepts contrib/feedpub.service without a single warning (the
# unit's ExecStart pointed at that binary, since verify insists that it exists). The
# Dockerfile is not built: no container engine runs here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d "${TMPDIR:-/tmp}/feedpub-install.XXXXXX")
trap 'rm -rf "$root"' EXIT

echo "packaging: cargo install --path . --locked"
cargo install --quiet --path . --locked --root "$root"
"$root/bin/feedpub" --version
"$root/bin/feedpub" --help | grep -q 'serve'

if command -v systemd-analyze >/dev/null; then
  mkdir -p "$root/unit"
  sed "s|/usr/local/bin/feedpub|$root/bin/feedpub|" contrib/feedpub.service >"$root/unit/feedpub.service"
  out=$(systemd-analyze verify "$root/unit/feedpub.service" 2>&1) || {
    echo "$out"
    echo "packaging: systemd-analyze verify failed" >&2
    exit 1
  }
  if [[ -n $out ]]; then
    echo "$out"
    echo "packaging: systemd-analyze verify warned about contrib/feedpub.service" >&2
    exit 1
  fi
  echo "packaging: systemd-analyze verify contrib/feedpub.service: clean"
else
  echo "packaging: systemd-analyze is not installed here; contrib/feedpub.service not verified"
fi
