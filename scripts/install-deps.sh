#!/usr/bin/env bash
# The one place that names the system packages gqa needs (Debian 12). Idempotent: installs only
# what is missing, runs apt-get update only then, and uses sudo only when not root.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libeigen3-dev
  libopenblas-dev libsentencepiece-dev sentencepiece
  libcpp-httplib-dev libpcre2-dev libicu-dev
  chromium
  libtorch-dev libgloo-dev
  libdnnl-dev ocl-icd-opencl-dev  # Debian's dnnl-config.cmake asks for OpenCL (a Recommends)
  bible-kjv
  clang-format
  clang libclang-rt-14-dev
)

# Node.js runs the planner page's browser test; the machine image brings a newer one than
# Debian's, so Debian's is installed only when there is none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

# Test-data generators only (make golden): the golden files themselves are committed.
if [ "${1:-}" = "--golden" ]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm packages of the tests, each folder from its committed lockfile: tests/web (the planner
# page in Chromium) and tests/tokenizer_ref (the tokenizer.json reference). Only when a
# lockfile changed since the last install.
install_npm() {
  local dir
  for dir in tests/web tests/tokenizer_ref; do
    dir="$(dirname "$0")/../$dir"
    if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.gqa-installed-lock"; then
      echo "install-deps: npm ci in ${dir#*/../}"
      (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
      cp "$dir/package-lock.json" "$dir/node_modules/.gqa-installed-lock"
    fi
  done
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_npm
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm
