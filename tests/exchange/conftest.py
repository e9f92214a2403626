"""What the exchange's tests share: the API whose egress policy lets addresses on this
machine (the tests' HTTPS, SFTP and AS2 peers) be registered and reached."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.db import Database
from tests.support.api import SETTINGS, Api, _client


@pytest.fixture
async def local(db: Database) -> AsyncIterator[Api]:
    async for a in _client(db, SETTINGS.replace(webhook_allow="127.0.0.0/8")):
        yield a
