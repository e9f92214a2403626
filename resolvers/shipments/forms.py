"""The read planner's forms of shipments, their legs and vehicles (see resolvers/forms.py)."""

from __future__ import annotations

from typing import Any

from domain.shipments import legs, positions
from domain.shipments import reads as shipment_reads
from domain.tenancy import Where
from resolvers.forms import Column, Join, Planned, RootOne, RootPage, Rows, Stored, columns
from resolvers.relay import after_id, check_first, exactly_one, expect_id
from resolvers.shipments.queries import _filter
from resolvers.shipments.types import Shipment, ShipmentLeg
from resolvers.shipments.vehicles import Position, Vehicle

PLANNED = {
    Shipment: Planned("shipment", {
        **columns("number", "status", "created_at", "updated_at"),
        "legs": Rows("{c}.shipment_id = {t}.id", "{c}.seq"),
        "current_leg": Join("{c}.id = " + legs.current_leg_id("{t}.id")),
        "eta": Column(legs.current_leg_eta("{t}.id")),
        "delayed": Column(legs.any_leg_delayed("{t}.id")),
        "latest_position": Stored(positions.stored_fix("{t}.id")),
    }),
    ShipmentLeg: Planned("shipment_leg", {
        **columns("seq", "mode", "planned_departure", "planned_arrival", "promised_by",
                  "status", "actual_departure", "actual_arrival", "eta", "eta_confidence",
                  "delayed"),
        "vehicle": Join("{c}.id = {t}.vehicle_id"),
        "origin": Join("{c}.id = {t}.origin_site_id"),
        "destination": Join("{c}.id = {t}.destination_site_id"),
        "shipment": Join("{c}.id = {t}.shipment_id"),
    }),
    Vehicle: Planned("vehicle", columns(
        "code", "kind", "name", "plate", "mmsi", "imo", "reported_destination", "reported_eta",
        "voyage_heard_at")),
    Position: Planned(None, columns("fix_time", "latitude", "longitude", "speed_kmh",
                                    "heading", "accuracy_m")),
}


def shipments_page(where: Where, args: dict[str, Any]) -> RootPage:
    first = check_first(args["first"])
    after = args.get("after")
    sql = shipment_reads.shipment_page(where, _filter(args.get("filter")), first + 1,
                                       after_id(after), columns="s.*")
    return RootPage(sql, "s", "s.id DESC", ("s.id",), first, after is not None)


def shipment_one(where: Where, args: dict[str, Any]) -> RootOne:
    gid, number = args.get("id"), args.get("number")
    exactly_one(gid, number, "number")
    if gid is not None:
        return RootOne("shipment", f"{{c}}.id = {where.arg(expect_id(gid, 'Shipment'))}::bigint")
    return RootOne("shipment", f"{{c}}.number = {where.arg(number)}::text")


ROOTS = {"shipments": shipments_page, "shipment": shipment_one}
