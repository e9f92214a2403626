"""Redis and an MQTT broker for the test session, as our own child processes.

Both come from ``api.embedded``, the same classes ``keylink dev`` runs, on free
ports in a temporary directory, so no test depends on (or disturbs) servers the
machine may run on 6379 or 1883. The broker is Mosquitto with
``api/embedded/mosquitto-dev.conf``: delivery tests exercise the config we ship.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.embedded import MOSQUITTO_DEV_CONFIG, Mosquitto, Redis, free_port, mosquitto_binary


@pytest.fixture(scope="session")
def services_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="keylink-test-services-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A fresh directory for servers' state, outside pytest's own temporary tree.

    Run as root, PostgreSQL runs as another user and must traverse every parent
    directory; each pytest session resets its tree to mode 0700, which would cut
    off the servers of a session already running.
    """
    root = Path(tempfile.mkdtemp(prefix="keylink-test-state-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(services_dir: Path) -> Iterator[str]:
    with Redis(services_dir / "redis", free_port(0)) as server:
        yield server.url


@pytest.fixture(scope="session")
def mqtt_broker(services_dir: Path) -> Iterator[Mosquitto]:
    """A Mosquitto broker with the project's dev config; has ``host``, ``port``, ``url``."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed; `scripts/ensure-mosquitto.sh` installs it")
    with Mosquitto(services_dir / "mosquitto", free_port(0), config=MOSQUITTO_DEV_CONFIG) as broker:
        yield broker
