#!/bin/sh
# Installs Debian's Chromium for the browser tests (npm run test:browser). Idempotent: does nothing when
# /usr/bin/chromium is already there. Needs root (or sudo) and Debian's package mirrors; nothing is downloaded
# from anywhere else (playwright-core drives this system browser, it does not fetch its own).
set -eu

if [ -x /usr/bin/chromium ]; then
  echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: installed ($(/usr/bin/chromium --version))"
