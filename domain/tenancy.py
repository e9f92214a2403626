"""Who may see what: the one place where customer data is fenced off.

A :class:`Scope` travels with every read. A customer's scope carries its organization
id and every customer-scoped query adds :meth:`Scope.sql` on the row's owning column;
the mill's staff roles carry ``None`` and see across customers. Objects outside the
scope are simply not found, exactly like ids that do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    # None: the mill's staff, who see every customer's data.
    org_id: int | None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def customer(cls, org_id: int) -> Scope:
        return cls(org_id)

    @property
    def is_customer(self) -> bool:
        return self.org_id is not None

    def sql(self, column: str, param: int) -> str:
        """The filter on an owner column, with the scope bound as parameter ``$param``.

        Rows whose owner is NULL (unallocated material) are the mill's alone.
        """
        return f"(${param}::bigint IS NULL OR {column} = ${param})"

    def sees(self, owner_org_id: int | None) -> bool:
        return self.org_id is None or owner_org_id == self.org_id
