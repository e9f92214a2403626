#!/usr/bin/env bash
# Makes sure the Mosquitto programs exist: the test suite runs the broker with the
# project's config, because that config is what keeps QoS 1 messages from being
# dropped, and `mosquitto_passwd` checks our password files; the benchmarks also time
# the broker against `mosquitto_sub`. Usage: ensure-mosquitto.sh [--clients]
# Installs what is missing with apt-get when run as root on Debian/Ubuntu; otherwise
# says what to install. Only packages are installed: any service a package starts is
# the system's business and is left alone.
set -euo pipefail

missing=()
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    missing+=(mosquitto)
fi
if [ "${1:-}" = "--clients" ] && ! command -v mosquitto_sub >/dev/null 2>&1; then
    missing+=(mosquitto-clients)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "${missing[*]} not found; installing with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    exit 0
fi

cat >&2 <<MSG
Needed and not found: ${missing[*]} (the MQTT broker Mosquitto, 2.0 or newer, and for
the benchmarks its command-line clients). Install them:
  Debian/Ubuntu:  sudo apt-get install ${missing[*]}
  Fedora/RHEL:    sudo dnf install mosquitto
  macOS:          brew install mosquitto
then run the command again.
MSG
exit 1
