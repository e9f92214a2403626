#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium: the live page's end-to-end test
# drives it headless through Playwright, which is told never to fetch a browser of its
# own. Installs it with apt-get when run as root on Debian/Ubuntu; otherwise says what
# to install and fails.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium not found; installing with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
    if [ ! -x "$CHROMIUM" ]; then
        echo "apt-get installed chromium but $CHROMIUM is still missing" >&2
        exit 1
    fi
    exit 0
fi

cat >&2 <<MSG
Needed and not found: $CHROMIUM (Debian's chromium package), which the live page's
browser test runs headless. Install it:
  Debian/Ubuntu:  sudo apt-get install chromium
then run the command again.
MSG
exit 1
