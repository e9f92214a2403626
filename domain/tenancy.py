"""Who may see what: the one place where customer data is fenced off.

A :class:`Scope` travels with every read, bound as parameter ``$1`` of each
customer-scoped statement; the methods below are the only visibility rules there are.
A customer's scope carries its organization id; the mill's staff roles carry ``None``
and see across customers. Objects outside the scope are simply not found, exactly like
ids that do not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.db import Executor, Record

# Every scoped statement binds the scope's organization id (or NULL) as $1.
P = "$1::bigint"
# Leg states in which the vehicle has the leg's coils aboard.
CARRYING = "('loading', 'departed', 'in_transit', 'arrived', 'exception')"
# What a customer is told of a shipment it has coils on. Movement and delivery matter to
# every customer with coils aboard; geofence crossings and scan anomalies are the mill's
# operations (and an anomaly may name another customer's coil), so they stay with the
# mill's staff: in the outbox, on the live bus and in every read of a shipment's events.
CUSTOMER_KINDS = frozenset({"departed", "arrived", "delayed", "back_on_time", "unloaded",
                            "received", "arrival_without_unload"})


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

    def where(self, *conditions: str) -> Where:
        """A WHERE clause of a filtered read, starting from the scope's own conditions
        (which use ``$1``, bound here to the scope's organization)."""
        return Where([self.org_id], list(conditions))

    @staticmethod
    def owned(column: str) -> str:
        """Rows owned by the viewer: the owner column is its organization. Rows whose
        owner is NULL (unallocated material, the mill's own events) are the mill's."""
        return f"({P} IS NULL OR {column} = {P})"

    @staticmethod
    def heat(alias: str) -> str:
        """A heat is seen by a customer once one of its coils came from it."""
        return (f"({P} IS NULL OR EXISTS (SELECT 1 FROM coil v WHERE v.heat_id = {alias}.id"
                f" AND v.customer_org_id = {P}))")

    @staticmethod
    def slab(alias: str) -> str:
        """A slab, likewise, once one of the customer's coils was rolled from it."""
        return (f"({P} IS NULL OR EXISTS (SELECT 1 FROM coil v WHERE v.slab_id = {alias}.id"
                f" AND v.customer_org_id = {P}))")

    @staticmethod
    def organization(alias: str) -> str:
        """A customer sees itself and the mill, its counterpart; never another customer."""
        return f"({P} IS NULL OR {alias}.id = {P} OR {alias}.kind = 'mill')"

    @staticmethod
    def site(alias: str) -> str:
        """Shared sites (ports, stations: no owner) and the mill's plants are public; a
        customer's warehouse is its own."""
        return (f"({P} IS NULL OR {alias}.org_id IS NULL OR {alias}.org_id = {P}"
                f" OR {alias}.org_id IN (SELECT id FROM organization WHERE kind = 'mill'))")

    @staticmethod
    def spec(alias: str) -> str:
        """Catalogue specs are public; a spec with a customer's part number is its own."""
        return (f"({P} IS NULL OR {alias}.customer_org_id IS NULL"
                f" OR {alias}.customer_org_id = {P})")

    @staticmethod
    def shipment(alias: str) -> str:
        """A customer sees a shipment exactly when `shipment_customer` lists it for that
        shipment, that is, when the shipment carries some of its coils."""
        return (f"({P} IS NULL OR EXISTS (SELECT 1 FROM shipment_customer sc"
                f" WHERE sc.shipment_id = {alias}.id AND sc.org_id = {P}))")

    @staticmethod
    def shipment_event(alias: str) -> str:
        """Of a shipment it sees, a customer reads the events of the kinds it is told of
        (`CUSTOMER_KINDS`), never the mill's fence crossings and scan anomalies."""
        kinds = ", ".join(f"'{k}'" for k in sorted(CUSTOMER_KINDS))
        return f"({P} IS NULL OR {alias}.kind IN ({kinds}))"

    @staticmethod
    def vehicle(alias: str) -> str:
        """A customer sees what a vehicle is (name, plate, MMSI) once it has been put on a
        leg of one of its shipments: it is part of that shipment's record."""
        return (f"({P} IS NULL OR EXISTS (SELECT 1 FROM shipment_leg vl"
                f" JOIN shipment_customer vc ON vc.shipment_id = vl.shipment_id"
                f" WHERE vl.vehicle_id = {alias}.id AND vc.org_id = {P}))")

    @staticmethod
    def vehicle_now(alias: str) -> str:
        """A customer sees where a vehicle is only while it carries the customer's coils:
        on a leg of its shipments from loading until unloading. A truck that delivered to
        one customer yesterday must not show another its rounds today."""
        return (f"({P} IS NULL OR EXISTS (SELECT 1 FROM shipment_leg vl"
                f" JOIN shipment_customer vc ON vc.shipment_id = vl.shipment_id"
                f" WHERE vl.vehicle_id = {alias}.id AND vc.org_id = {P}"
                f" AND vl.status IN {CARRYING}))")

    @staticmethod
    def inbox(alias: str) -> str:
        """A notification in the viewer's own inbox, for everyone (staff included): one
        addressed to its whole organization, or to its user alone. Here $1 is the viewer's
        own organization id (the mill's for its staff) and $2 its user (the token's sub)."""
        return (f"(({alias}.user_subject IS NULL AND {alias}.org_id = {P}) OR"
                f" ({alias}.user_subject = $2 AND ({alias}.org_id IS NULL"
                f" OR {alias}.org_id = {P})))")

    @staticmethod
    def delivered(alias: str) -> str:
        """A coil the customer may name in a quality dispute: its own, and delivered to
        it: now at one of its warehouses, unloaded there from a leg, or already reported
        processed. The mill (NULL) names none: disputes come from customers."""
        return (f"({alias}.customer_org_id = {P} AND ("
                f"EXISTS (SELECT 1 FROM coil_location dl JOIN site ds ON ds.id = dl.site_id"
                f" WHERE dl.coil_id = {alias}.id AND ds.org_id = {P}"
                f" AND ds.kind = 'customer_warehouse')"
                f" OR EXISTS (SELECT 1 FROM leg_coil dlc JOIN shipment_leg dsl"
                f" ON dsl.id = dlc.leg_id JOIN site ds ON ds.id = dsl.destination_site_id"
                f" WHERE dlc.coil_id = {alias}.id AND ds.org_id = {P}"
                f" AND dsl.status IN ('arrived', 'unloaded', 'received'))"
                f" OR EXISTS (SELECT 1 FROM processing_feedback df"
                f" WHERE df.coil_id = {alias}.id AND df.customer_org_id = {P})))")


@dataclass(slots=True)
class Where:
    """The conditions of one filtered read and the values they bind, numbered in the
    order they are added; ``$1`` is always the scope's organization."""

    args: list[Any]
    conditions: list[str] = field(default_factory=list)

    def arg(self, value: Any) -> str:
        """Binds ``value`` and returns its placeholder."""
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, condition: str) -> None:
        self.conditions.append(condition)

    def given(self, value: Any, condition: str) -> None:
        """Adds ``condition`` with ``value`` bound at its ``{}`` (its only braces), unless
        the value is None."""
        if value is not None:
            self.add(condition.format(self.arg(value)))

    def any_of(self, column: str, values: Sequence[Any], sql_type: str = "text") -> None:
        """``column`` is one of ``values``, unless none are given."""
        if values:
            self.add(f"{column} = ANY({self.arg(list(values))}::{sql_type}[])")

    def sql(self) -> str:
        return " AND ".join(self.conditions)

    async def newest(self, db: Executor, select: str, alias: str, before_id: int | None,
                     limit: int) -> list[Record]:
        """One keyset page of ``select`` (``SELECT ... FROM table alias``) under these
        conditions: the ``limit`` highest ids of ``alias``, below ``before_id`` if given."""
        self.given(before_id, f"{alias}.id < {{}}::bigint")
        return await db.fetch(
            f"{select} WHERE {self.sql()} ORDER BY {alias}.id DESC LIMIT {self.arg(limit)}",
            *self.args)


def _owner(alias: str) -> str:
    return Scope.owned(f"{alias}.customer_org_id")


def _certificate(alias: str) -> str:
    # A certificate is its coil's: seen exactly when the coil is.
    return Scope.owned(f"(SELECT o.customer_org_id FROM coil o WHERE o.id = {alias}.coil_id)")


# The rule of each table for statements that reach rows by table rather than through a
# read of their own (the API's read planner): a table's alias to the condition its rows
# are seen under, one of the rules above. A table missing here is not read that way.
TABLE_RULES: dict[str, Callable[[str], str]] = {
    "contract": _owner,
    "contract_line": _owner,
    "contract_line_schedule": _owner,
    "production_stage_status": _owner,
    "coil": _owner,
    "quality_certificate": _certificate,
    "heat": Scope.heat,
    "steel_spec": Scope.spec,
    "organization": Scope.organization,
    "site": Scope.site,
    "shipment": Scope.shipment,
    # A leg is seen with its shipment.
    "shipment_leg": lambda a: (f"EXISTS (SELECT 1 FROM shipment s WHERE s.id = {a}.shipment_id"
                               f" AND {Scope.shipment('s')})"),
    "vehicle": Scope.vehicle,
    "quality_dispute": _owner,
    "quality_claim": _owner,
    "settlement": _owner,
    # A dispute's step is seen with its dispute.
    "dispute_step": lambda a: (f"EXISTS (SELECT 1 FROM quality_dispute d"
                               f" WHERE d.id = {a}.dispute_id AND {_owner('d')})"),
}


def table_rule(table: str) -> Callable[[str], str] | None:
    return TABLE_RULES.get(table)
