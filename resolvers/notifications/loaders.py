"""Loaders of the inbox and of bulletins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.push import bulletins
from domain.push import notifications as inbox
from resolvers.loaders import RowsLoader


class NotificationByIdLoader(RowsLoader[int]):
    """Fenced like the inbox: the viewer's user and organization, so a colleague cannot
    read what is addressed to one user (nor the mill's staff a customer's)."""

    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        if self.loaders.actor is None:
            return []
        return await inbox.by_ids(self.db, self.loaders.actor, keys)


class BulletinByIdLoader(RowsLoader[int]):
    """Bulletins are open to every viewer."""

    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await bulletins.by_ids(self.db, keys)
