"""Who acts: one actor per request (built from its token) or per job of a process (its
named identity). Every domain write takes it; each area checks it against the permission
table written beside that area's state transitions, so refusals are decided in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import Forbidden, NotFound
from domain.tenancy import Scope

__all__ = ["CUSTOMER", "SYSTEM", "Actor", "Permissions"]

CUSTOMER = frozenset({"customer"})
# The role of a process acting on its own (the ingester, the push worker, the plant's
# systems): it holds no token and is trusted as the mill itself, so it may take any action.
SYSTEM = frozenset({"system"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a token's subject, its organization and roles, or a process's name."""

    subject: str
    org_id: int
    roles: frozenset[str]
    is_customer: bool
    # The record kinds a plant system's token may feed (its `kinds` claim); empty for
    # people. A process acting on its own may feed every kind.
    feeds: frozenset[str] = frozenset()

    @classmethod
    def system(cls, name: str) -> Actor:
        """A process acting on its own account (e.g. ``keylink:ingester``): the mill's
        scope, any action. Stored actor columns record ``name``."""
        return cls(name, 0, SYSTEM, False)

    @property
    def scope(self) -> Scope:
        """What it may see: a customer its own organization's, the mill everything."""
        return Scope.customer(self.org_id) if self.is_customer else Scope.everything()

    def may(self, roles: frozenset[str] | tuple[str, ...]) -> bool:
        """Whether one of its roles is one of ``roles`` (a process may do anything)."""
        if self.roles == SYSTEM:
            return True
        # Mill roles are the mill's alone: a customer token acts only as `customer`.
        mine = self.roles & CUSTOMER if self.is_customer else self.roles - CUSTOMER
        return bool(mine & frozenset(roles))

    def may_feed(self, kind: str) -> bool:
        """Whether it may write records of ``kind`` through the feeds."""
        return self.roles == SYSTEM or kind in self.feeds

    def require(self, roles: tuple[str, ...]) -> None:
        """Refuse (Forbidden) unless it holds one of ``roles``, named in the message in
        the table's order."""
        if not self.may(roles):
            raise Forbidden(f"this needs the role {' or '.join(roles)}")

    def acts_for(self, customer_id: int) -> bool:
        """Whether it may act for customer ``customer_id``: a customer only for itself,
        the mill's staff for any customer."""
        return not self.is_customer or customer_id == self.org_id

    def check_acts_for(self, customer_id: int, *, field: str | None = "customerId") -> None:
        """Refuse a customer naming another customer as not found (its existence is not
        theirs to learn)."""
        if not self.acts_for(customer_id):
            raise NotFound("no such customer", field=field)


class Permissions:
    """An area's permission table: action -> the roles that may take it."""

    def __init__(self, table: Mapping[str, tuple[str, ...]]) -> None:
        self._table = dict(table)

    def roles(self, action: str) -> tuple[str, ...]:
        return self._table[action]

    def allows(self, actor: Actor, action: str) -> bool:
        """Whether ``actor`` may take ``action``: for reads that answer "nothing" rather
        than refuse."""
        return actor.may(self._table[action])

    def check(self, actor: Actor, action: str) -> None:
        """Refuse ``actor`` (Forbidden) unless it may take ``action``."""
        actor.require(self._table[action])
