"""Every kind of record a plant feeds, with its table, key, fields and own rows."""

from __future__ import annotations

from domain.feeds.fields import Field
from domain.feeds.kind import Kind

__all__ = ["KINDS"]

_CODE = r"^[A-Z0-9][A-Z0-9_-]*$"


class Organization(Kind):
    name = "organization"
    title = "Organization"
    description = ("A party: the mill itself, a customer, or a carrier. Keyed by its code "
                   "(upper-case letters, digits, '-' and '_'), which tokens name.")
    table = "organization"
    key_column = "code"
    staff_roles = ("admin",)
    fields = (
        Field("name", "text", "The organization's name.", column="name", required=True),
        Field("kind", "enum", "What the party is to the mill.", column="kind", required=True,
              values=("mill", "customer", "carrier")),
    )


KINDS: dict[str, Kind] = {k.name: k for k in (Organization(),)}
