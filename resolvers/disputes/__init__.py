"""Quality disputes, their claims and evidence over GraphQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.actor import Actor

if TYPE_CHECKING:
    from api.context import Viewer


def actor(who: Viewer) -> Actor:
    """The viewer as the domain's actor: who, of which organization, with which roles."""
    return Actor(who.subject, who.organization.id, who.roles, who.is_customer)
