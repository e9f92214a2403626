"""How a client of Keylink's reaches the MQTT broker that ``MQTT_URL`` names.

``mqtt://user:password@host:port``, or ``mqtts://...`` for TLS, whose default port is
8883 (1883 for plain text). Over TLS the broker's certificate is checked against
``KEYLINK_MQTT_CA_FILE`` (the system's authorities when unset) and must name the host.
The ingester and ``keylink simulate`` connect alike.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

LOCAL = "mqtt://127.0.0.1:1883"


def log_in(client: mqtt.Client, mqtt_url: str, ca_file: str | None) -> tuple[str, int]:
    """Give ``client`` the user, password and TLS of ``mqtt_url``; returns the host and
    port to connect to."""
    url = urlsplit(mqtt_url)
    tls = url.scheme == "mqtts"
    if url.username:
        client.username_pw_set(unquote(url.username), unquote(url.password or "") or None)
    if tls:
        client.tls_set(ca_certs=ca_file)
    return url.hostname or "127.0.0.1", url.port or (8883 if tls else 1883)
