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
        subject, org_id = self.loaders.subject, self.loaders.own_org_id
        if subject is None or org_id is None:
            return []
        return await inbox.by_ids(self.db, inbox.Recipient(subject=subject, org_id=org_id),
                                  keys)


class BulletinByIdLoader(RowsLoader[int]):
    """Bulletins are open to every viewer."""

    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await bulletins.by_ids(self.db, keys)
