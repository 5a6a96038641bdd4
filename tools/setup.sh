#!/usr/bin/env bash
# Install what a fresh machine lacks for fourfold: hatch, and the Debian packages the demos and
# tests read (Fashion-MNIST, a C compiler, Chromium for the JavaScript decoder tests). Safe to run
# again; it skips what is present.
set -euo pipefail

need_apt=()
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
command -v cc >/dev/null || need_apt+=(gcc)
command -v chromium >/dev/null || need_apt+=(chromium)  # delaunay-thumb browser tests
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -q
    "${sudo_cmd[@]}" apt-get install -y -q "${need_apt[@]}"
  else
    echo "setup: please install ${need_apt[*]} (Debian package names) with your system's package manager" >&2
  fi
fi

if ! command -v hatch >/dev/null || ! hatch --version | grep -qE 'Hatch, version 1\.(1[89]|[2-9][0-9])'; then
  python3 -m pip install -q --disable-pip-version-check "hatch>=1.18,<1.19" 2>&1 \
    | grep -v '^WARNING: Location' || true
fi
hatch --version
