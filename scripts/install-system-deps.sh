#!/usr/bin/env bash
# System packages the tests need, from Debian. Installs only what is missing (needs root or sudo).
#   postgresql – the tests start throwaway PostgreSQL servers (initdb into a temp dir)
#   nginx      – the two-instance test puts nginx (sticky sessions) in front of two app instances
#   openssl    – a self-signed certificate for the stand-in model registry (catalog-model tests)
#   prometheus – the operations test has a real Prometheus server scrape the endpoint and the app
set -euo pipefail
# chromium: the browser the browser tests drive through Playwright (tests/support/browser.py);
# fonts-noto-cjk: Korean glyphs for the Korean UI in the browser and its screenshots.
packages=(chromium fonts-noto-cjk postgresql nginx openssl prometheus)
missing=()
# nodejs, npm: `make web` installs the /browser page's libraries from npm (web/package-lock.json).
# Only when npm is missing: a Node.js from elsewhere brings its own npm, which Debian's conflicts with.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
