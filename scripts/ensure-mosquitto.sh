#!/usr/bin/env bash
# Makes sure a `mosquitto` binary exists: the test suite runs the broker with the
# project's config, because that config is what keeps QoS 1 messages from being
# dropped. Installs it with apt-get when run as root on Debian/Ubuntu; otherwise
# says what to install. Only the package is installed: any service the package
# starts is the system's business and is left alone.
set -euo pipefail

if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "mosquitto not found; installing it with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends mosquitto
    exit 0
fi

cat >&2 <<'MSG'
mosquitto (the MQTT broker, 2.0 or newer) is needed to run the tests. Install it:
  Debian/Ubuntu:  sudo apt-get install mosquitto
  Fedora/RHEL:    sudo dnf install mosquitto
  macOS:          brew install mosquitto
then run the command again.
MSG
exit 1
