#!/bin/sh
# Installs Debian's SpamAssassin for the deliverability check (npm run test:checks). Idempotent: does nothing when
# `spamassassin` is already on the PATH. Needs root (or sudo) and Debian's package mirrors. The check runs it with
# local rules only (`spamassassin -L`): no DNS blocklist, no network test, so scores are the same on every run.
set -eu

if command -v spamassassin >/dev/null 2>&1; then
  echo "spamassassin: already installed ($(spamassassin --version 2>/dev/null | head -n 1))"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends spamassassin >/dev/null
echo "spamassassin: installed ($(spamassassin --version | head -n 1))"
