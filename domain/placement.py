"""Where each table's rows would live on a distributed PostgreSQL (Citus and its kind):
the column each distributed table would be split by, the small tables every node would
hold a copy of, and the few that stay on one node. One PostgreSQL serves Keylink today;
this map says what a move would take, and a test keeps it true of the schema, so that a
table added without a place, or a gap closed without the map knowing, fails the build.

- ``customer``: split by the customer organization the rows belong to (the tenant).
  Every query a customer's token makes names it already (``domain.tenancy``), so these
  queries would go to one node.
- ``heat``: the material chain (heats, slabs, coils, their genealogy and certificates),
  split by heat: a coil's genealogy stays within its heat's slabs and coils, and a coil
  changes customer when it is reallocated, so the customer is not a stable key for it.
- ``vehicle``: positions and what is derived from them, split by vehicle: the ingester
  writes a vehicle's fixes together and the live page reads them by vehicle.
- ``shipment``: a shipment, its legs and events, split by shipment.
- ``reference``: small, read by every query, changed rarely: a copy on every node.
- ``coordinator``: kept on one node: the outbox, whose single order every reader follows,
  and bookkeeping read by one process at a time.

A distributed table whose key column is missing or may be null is a *gap*: each is
listed in :data:`GAPS` with what closing it takes. docs/decisions.md ("Distributed
PostgreSQL: what a move would take") gives the figures behind the choices.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GAPS", "PLACEMENT", "Place"]

DISTRIBUTED = ("customer", "heat", "vehicle", "shipment")
KINDS = (*DISTRIBUTED, "reference", "coordinator")


@dataclass(frozen=True, slots=True)
class Place:
    kind: str
    # The column a distributed table is split by (None for reference and coordinator).
    column: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"no placement kind {self.kind!r}")
        if (self.column is None) == (self.kind in DISTRIBUTED):
            raise ValueError("a distributed table names its column; no other does")


def _customer(column: str = "customer_org_id") -> Place:
    return Place("customer", column)


_REFERENCE = Place("reference")
_COORDINATOR = Place("coordinator")

PLACEMENT: dict[str, Place] = {
    # The customer's own records.
    "bulletin_interest": _customer("org_id"),
    "consumption_rate": _customer(),
    "contract": _customer(),
    "contract_line": _customer(),
    "contract_line_feasibility": _customer(),
    "credit_approval": _customer(),
    "customer_credit": _customer(),
    "customer_preference": _customer("org_id"),
    "customer_tier": _customer(),
    "delivery_schedule": _customer(),
    "delivery_schedule_line": _customer(),
    "dispute_coil": _customer(),
    "dispute_evidence": _customer(),
    "dispute_step": _customer(),
    "escalation_contact": _customer(),
    "exchange_address": _customer("org_id"),
    "exchange_attempt": _customer(),
    "exchange_document": _customer("org_id"),
    "exchange_mapping": _customer("partner_org_id"),
    "notification": _customer("org_id"),
    "notification_read": _customer(),
    "payment": _customer(),
    "plan_import": _customer(),
    "planning_profile": _customer(),
    "planning_spec": _customer(),
    "processing_feedback": _customer(),
    "production_order": _customer(),
    "production_plan": _customer(),
    "production_plan_entry": _customer(),
    "production_stage_plan": _customer(),
    "progress_event": _customer(),
    "purchase_plan": _customer(),
    "purchase_plan_change": _customer(),
    "purchase_plan_curve": _customer(),
    "purchase_plan_line": _customer(),
    "push_delivery": _customer("org_id"),
    "push_rule": _customer("org_id"),
    "quality_claim": _customer(),
    "quality_dispute": _customer(),
    "saved_view": _customer("org_id"),
    "settlement": _customer(),
    "stock_report": _customer(),
    "survey": _customer(),
    "survey_answer": _customer(),
    "transport_cycle": _customer(),
    "transport_preference": _customer("org_id"),
    "urge_step": _customer(),
    "urge_ticket": _customer(),
    "user_preference": _customer("org_id"),
    "webhook_subscription": _customer("org_id"),
    # The material chain, by heat.
    "heat": Place("heat", "id"),
    "slab": Place("heat", "heat_id"),
    "coil": Place("heat", "heat_id"),
    "coil_location": Place("heat", "heat_id"),
    "genealogy_edge": Place("heat", "heat_id"),
    "inspection": Place("heat", "heat_id"),
    "quality_certificate": Place("heat", "heat_id"),
    # Tracking, by vehicle.
    "position": Place("vehicle", "vehicle_id"),
    "geofence_presence": Place("vehicle", "vehicle_id"),
    "scan_event": Place("vehicle", "vehicle_id"),
    # Shipments.
    "shipment": Place("shipment", "id"),
    "shipment_leg": Place("shipment", "shipment_id"),
    "shipment_customer": Place("shipment", "shipment_id"),
    "shipment_event": Place("shipment", "shipment_id"),
    "leg_coil": Place("shipment", "shipment_id"),
    # A copy on every node.
    "organization": _REFERENCE,
    "site": _REFERENCE,
    "service_tier": _REFERENCE,
    "freight_rate": _REFERENCE,
    "steel_spec": _REFERENCE,
    "production_stage": _REFERENCE,
    "stage_capacity": _REFERENCE,
    "vehicle": _REFERENCE,
    "device": _REFERENCE,
    "bulletin": _REFERENCE,
    "push_rule_version": _REFERENCE,
    "ais_unknown_vessel": _REFERENCE,
    # One node.
    "domain_event": _COORDINATOR,
    "push_cursor": _COORDINATOR,
    "push_job": _COORDINATOR,
    "feed_batch": _COORDINATOR,
    "feed_record": _COORDINATOR,
    "contract_number_counter": _COORDINATOR,
    "rejected_message": _COORDINATOR,
    "ais_fragment": _COORDINATOR,
    "ingest_member": _COORDINATOR,
    "schema_migration": _COORDINATOR,
}

# Distributed tables whose key column is missing ("missing") or may be null ("nullable"),
# and what closing the gap takes. A test compares this with the schema both ways.
GAPS: dict[str, tuple[str, str]] = {
    "delivery_schedule_line": ("missing", "copy the schedule's customer onto its lines"),
    "dispute_coil": ("missing", "copy the dispute's customer onto its coils"),
    "dispute_step": ("missing", "copy the dispute's customer onto its steps (actor_org_id "
                                "is who acted, the mill or the customer)"),
    "exchange_attempt": ("missing", "copy the document's partner onto its attempts"),
    "notification_read": ("missing", "copy the notification's organization"),
    "production_plan_entry": ("missing", "copy the plan's customer onto its entries"),
    "production_stage_plan": ("missing", "copy the order's customer onto its stages"),
    "progress_event": ("missing", "copy the order's customer onto its progress"),
    "purchase_plan_curve": ("missing", "copy the plan's customer onto its curves"),
    "escalation_contact": ("nullable", "mill-wide and tier contacts (no customer) become a "
                                       "reference table of their own"),
    "notification": ("nullable", "notifications for the mill's staff get the mill's own "
                                 "organization instead of none"),
    "push_delivery": ("nullable", "as notifications"),
    "coil_location": ("missing", "copy the coil's heat"),
    "genealogy_edge": ("missing", "copy the child coil's heat (a parent is of the same "
                                  "heat: slit, cut and rolled coils keep their heat)"),
    "inspection": ("missing", "copy the coil's heat"),
    "shipment_event": ("nullable", "a vehicle's event outside any shipment (a geofence "
                                   "passed empty) moves to a table keyed by vehicle"),
    "scan_event": ("nullable", "a scan at a site (no vehicle) keys by the site's dock "
                               "instead, or the table moves to shipment"),
    "leg_coil": ("missing", "copy the leg's shipment"),
}
