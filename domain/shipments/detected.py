"""What detection found: recorded once, and announced through the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import events
from domain.db import Executor

# Who is told about a detected event: a visibility rule, kept with the others.
from domain.tenancy import CUSTOMER_KINDS as CUSTOMER_KINDS


async def record_shipment_event(
    tx: Executor, shipment_id: int | None, leg_id: int | None, vehicle_id: int | None,
    kind: str, occurred_at: datetime, details: dict[str, Any], dedupe_key: str,
) -> bool:
    """Record what detection found, once per ``dedupe_key``; True when it is new.

    A new event also goes to the outbox as ``shipment.<kind>``: for the kinds in
    CUSTOMER_KINDS one row per customer of the shipment, each scoped to that customer;
    otherwise (or when no customer has coils aboard) one row for the mill (org NULL).
    The mill's staff read every row, so a NULL copy beside the customers' would show
    them each event twice.
    """
    event_id = await tx.fetchval(
        "INSERT INTO shipment_event (shipment_id, leg_id, vehicle_id, kind, occurred_at,"
        " details, dedupe_key) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        shipment_id, leg_id, vehicle_id, kind, occurred_at, details, dedupe_key)
    if event_id is None:
        return False
    number, orgs = None, []
    if shipment_id is not None:
        row = await tx.fetchrow(
            "SELECT s.number, array(SELECT org_id FROM shipment_customer sc"
            " WHERE sc.shipment_id = s.id ORDER BY org_id) AS orgs"
            " FROM shipment s WHERE s.id = $1", shipment_id)
        if row is not None:
            number, orgs = row["number"], list(row["orgs"])
    audience: list[int | None] = list(orgs) if kind in CUSTOMER_KINDS and orgs else [None]
    payload = {"event_id": event_id, "kind": kind, "shipment": number,
               "shipment_id": shipment_id, "leg_id": leg_id, "vehicle_id": vehicle_id,
               "details": details}
    # The aggregate a reader follows: the shipment, else the vehicle, else (a scan naming
    # nothing known) the detected event itself.
    if shipment_id is not None:
        aggregate_type, aggregate_id = "shipment", shipment_id
    elif vehicle_id is not None:
        aggregate_type, aggregate_id = "vehicle", vehicle_id
    else:
        aggregate_type, aggregate_id = "shipment_event", event_id
    for org_id in audience:
        await events.append(
            tx, f"shipment.{kind}", org_id=org_id, aggregate_type=aggregate_type,
            aggregate_id=aggregate_id, payload=payload, actor=None, occurred_at=occurred_at)
    return True
