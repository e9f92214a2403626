"""Every kind of record a plant feeds: its table, key, fields, and the rows it writes
beyond its own (a contract's lines, a production order's stages, a coil's genealogy, a
shipment's legs and manifests).

The checks here are those that make the data trustworthy: references exist, weights and
genealogy add up within :data:`WEIGHT_TOLERANCE`, a coil travels on one open shipment at
a time, a leg starts where the previous one ended, and what has already left the mill is
not rewritten.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shapely.geometry import shape

from domain.calendar import mill_today
from domain.db import Executor, json_dumps
from domain.errors import Conflict, DomainError, Invalid, NotFound
from domain.feeds.fields import BadValue, Field, Ref, rows_json
from domain.feeds.kind import Event, Item, Kind, RefCache
from domain.feeds.records import Rejection
from domain.quality.limits import Range, SpecLimits, validated
from domain.quality.writes import (
    CERTIFICATE_ISSUED,
    CERTIFY_COLUMNS,
    CERTIFY_FROM,
    CertificateInput,
    Certified,
    certify,
    issued_payload,
)
from domain.settlements.writes import PaidInFull, paid_by_payments, paid_event_payload
from domain.shipments.manifest import lock_coils, sync_shipment_customers
from domain.shipments.states import ACTIVE

__all__ = ["KINDS", "WEIGHT_TOLERANCE"]

# How far weights may disagree (a coil against its genealogy's output, what children take
# against what their parent weighed): scales at two stations never read the same.
WEIGHT_TOLERANCE = Decimal("0.005")
_CODE = r"^[A-Z0-9][A-Z0-9_-]*$"
# A coil's or an order's contract line, and so its customer: resolved, then written.
_ALLOCATION = (Field("lineId", "int", "", column="line_id"),
               Field("customerId", "int", "", column="customer_org_id"))
_ORG = Ref("organization", "code", "organization")
_SITE = Ref("site", "code", "site")
_SPEC = Ref("steel_spec", "code", "spec")
_VEHICLE = Ref("vehicle", "code", "vehicle")
_HEAT = Ref("heat", "heat_no", "heat")
_SLAB = Ref("slab", "slab_no", "slab")
_COIL = Ref("coil", "coil_no", "coil")
_DECIMAL = {"type": ["string", "number"], "pattern": r"^-?\d+(\.\d+)?$"}
_TIME = {"type": "string", "format": "date-time"}
_DATE = {"type": "string", "format": "date"}
_KEY = {"type": "string", "minLength": 1, "maxLength": 64}


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

    def check(self, item: Item) -> None:
        if not re.fullmatch(_CODE, item.record.key):
            raise BadValue("an organization's key is upper-case letters, digits, '-' and "
                           "'_', starting with a letter or digit", "key")


    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        """The mill stays the mill: every staff token names it, so no record turns it into
        another kind of party, nor another party into the mill."""
        kinds = {r["code"]: r["kind"] for r in await tx.fetch(
            "SELECT code, kind FROM organization WHERE code = ANY($1::text[])",
            [i.record.key for i in items])}
        bad = []
        for i in items:
            was = kinds.get(i.record.key)
            if was is not None and was != i.values["kind"] and "mill" in (was, i.values["kind"]):
                bad.append((i, self._reject(i.record, "kind", f"{i.record.key} is a {was}: "
                                            "the mill's kind is not changed by a record",
                                            "CONFLICT")))
        return bad


class Site(Kind):
    name = "site"
    title = "Site"
    description = ("A place coils and vehicles are at: a plant, a port, a rail station or a "
                   "customer's warehouse, with its geofence (a GeoJSON Polygon or "
                   "MultiPolygon, or a circle of `geofenceRadiusM` around the point).")
    table = "site"
    key_column = "code"
    staff_roles = ("logistics", "admin")
    fields = (
        Field("name", "text", "The site's name.", column="name", required=True),
        Field("kind", "enum", "What the site is.", column="kind", required=True,
              values=("plant", "port", "rail_station", "customer_warehouse")),
        Field("organization", "text", "The owner; absent for shared infrastructure (ports, "
              "rail stations) every party may see.", column="org_id", ref=_ORG),
        Field("latitude", "number", "WGS 84 latitude.", column="latitude", required=True,
              minimum=-90, maximum=90),
        Field("longitude", "number", "WGS 84 longitude.", column="longitude", required=True,
              minimum=-180, maximum=180),
        Field("geofence", "object", "GeoJSON Polygon or MultiPolygon (WGS 84).",
              column="geofence", items={"required": ["type", "coordinates"]}),
        Field("geofenceRadiusM", "number", "Radius of the circular fence, in metres, when "
              "there is no polygon.", column="geofence_radius_m", exclusive_minimum=0,
              maximum=100_000),
        Field("timeZone", "text", "IANA time zone of the site.", column="time_zone",
              default="Asia/Shanghai", max_length=64),
    )

    def check(self, item: Item) -> None:
        v = item.values
        if v["geofence"] is None and v["geofence_radius_m"] is None:
            raise BadValue("a site needs a geofence or a geofenceRadiusM", "geofence")
        if v["geofence"] is not None:
            try:
                fence = shape(v["geofence"])
            except (ValueError, TypeError, AttributeError, IndexError, KeyError):
                raise BadValue("geofence is not GeoJSON geometry", "geofence") from None
            if fence.geom_type not in ("Polygon", "MultiPolygon") or not fence.is_valid:
                raise BadValue("geofence must be a valid Polygon or MultiPolygon", "geofence")
        try:
            ZoneInfo(v["time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise BadValue(f"timeZone {v['time_zone']!r} is not an IANA time zone",
                           "timeZone") from None


_BOUNDS = {"type": "object", "properties": {"min": _DECIMAL, "max": _DECIMAL},
           "additionalProperties": False}
_LIMITS = {
    "properties": {
        "chemistryPct": {"type": "object", "maxProperties": 30,
                         "propertyNames": {"pattern": "^[A-Z][a-z]?$"},
                         "additionalProperties": _BOUNDS,
                         "description": "Element symbol -> mass percent bounds."},
        "yieldStrengthMpa": _BOUNDS,
        "tensileStrengthMpa": _BOUNDS,
        "elongationMinPct": _DECIMAL,
        "coatingMassMinGM2": _DECIMAL,
    },
    "additionalProperties": False,
}


def _number(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class Spec(Kind):
    name = "spec"
    title = "Steel spec"
    description = ("A steel spec: grade, standard, product and dimensions; with a customer "
                   "and its part number when it is that customer's own.")
    table = "steel_spec"
    key_column = "code"
    staff_roles = ("quality", "sales", "admin")
    fields = (
        Field("grade", "text", "Steel grade, e.g. DC04.", column="grade", required=True),
        Field("standard", "text", "The standard, e.g. EN 10130.", column="standard",
              required=True),
        Field("product", "enum", "Product form.", column="product", required=True,
              values=("hot_rolled", "cold_rolled", "galvanized", "electrogalvanized",
                      "galvannealed", "tinplate", "electrical")),
        Field("thicknessMm", "decimal", "Nominal thickness, mm.", column="thickness_mm",
              required=True, exclusive_minimum=0, scale=3),
        Field("widthMm", "decimal", "Nominal width, mm.", column="width_mm", required=True,
              exclusive_minimum=0, scale=1),
        Field("coating", "text", "Coating designation, e.g. Z275.", column="coating"),
        Field("customer", "text", "The customer whose own spec it is.",
              column="customer_org_id", ref=_ORG),
        Field("customerPartNumber", "text", "The customer's part number.",
              column="customer_part_number"),
        Field("coilNominalWeightT", "decimal", "A coil's nominal weight, tonnes.",
              column="coil_nominal_weight_t", exclusive_minimum=0, scale=3,
              default=Decimal(12)),
        Field("limits", "object", "The standard's limits a certificate is checked against "
              "(bounds inclusive, decimals as strings); absent: none. A change raises the "
              "spec's limits revision.", items=_LIMITS),
    )
    derived = (
        Field("chemistryLimits", "object", "", column="chemistry_limits"),
        Field("yieldMin", "decimal", "", column="yield_min_mpa"),
        Field("yieldMax", "decimal", "", column="yield_max_mpa"),
        Field("tensileMin", "decimal", "", column="tensile_min_mpa"),
        Field("tensileMax", "decimal", "", column="tensile_max_mpa"),
        Field("elongationMin", "decimal", "", column="elongation_min_pct"),
        Field("coatingMin", "decimal", "", column="coating_min_g_m2"),
    )

    def check(self, item: Item) -> None:
        v = item.values
        if (v["customer_org_id"] is None) != (v["customer_part_number"] is None):
            raise BadValue("customer and customerPartNumber come together",
                           "customerPartNumber")
        given = item.record.data.get("limits") or {}

        def bounds(name: str) -> Range:
            doc = given.get(name) or {}
            return Range(_number(doc.get("min")), _number(doc.get("max")))

        limits = SpecLimits(
            chemistry={e: Range(_number(b.get("min")), _number(b.get("max")))
                       for e, b in (given.get("chemistryPct") or {}).items()},
            yield_strength_mpa=bounds("yieldStrengthMpa"),
            tensile_strength_mpa=bounds("tensileStrengthMpa"),
            elongation_min_pct=_number(given.get("elongationMinPct")),
            coating_mass_min_g_m2=_number(given.get("coatingMassMinGM2")))
        try:
            validated(limits)
        except Invalid as exc:
            raise BadValue(exc.message, f"limits.{exc.field}") from None
        v["chemistry_limits"] = {e: r.as_entered() for e, r in sorted(limits.chemistry.items())}
        v["yield_min_mpa"], v["yield_max_mpa"] = (limits.yield_strength_mpa.min,
                                                  limits.yield_strength_mpa.max)
        v["tensile_min_mpa"], v["tensile_max_mpa"] = (limits.tensile_strength_mpa.min,
                                                      limits.tensile_strength_mpa.max)
        v["elongation_min_pct"] = limits.elongation_min_pct
        v["coating_min_g_m2"] = limits.coating_mass_min_g_m2


class Vehicle(Kind):
    name = "vehicle"
    title = "Vehicle"
    description = ("A truck (with its plate), a rail wagon (its wagon number) or a ship "
                   "(its MMSI, and IMO number), and its carrier.")
    table = "vehicle"
    key_column = "code"
    staff_roles = ("logistics", "admin")
    fields = (
        Field("kind", "enum", "What the vehicle is.", column="kind", required=True,
              values=("truck", "rail_wagon", "ship")),
        Field("name", "text", "A name people know it by.", column="name", required=True),
        Field("plate", "text", "Licence plate or wagon number.", column="plate",
              max_length=32),
        Field("mmsi", "int", "A ship's MMSI.", column="mmsi", minimum=100_000_000,
              maximum=999_999_999),
        Field("imo", "int", "A ship's IMO number.", column="imo", minimum=1_000_000,
              maximum=9_999_999),
        Field("carrier", "text", "The carrier operating it.", column="carrier_org_id",
              ref=_ORG),
    )

    def check(self, item: Item) -> None:
        if item.values["kind"] == "ship" and item.values["mmsi"] is None:
            raise BadValue("a ship needs its mmsi", "mmsi")


class Device(Kind):
    name = "device"
    title = "Device"
    description = ("A GPS unit or AIS gateway on a vehicle, or a barcode scanner at a "
                   "site; keyed by its code, which is its MQTT user name and client id. "
                   "Its broker password is set with `keylink devices` or GraphQL, never "
                   "fed. Retiring a device disables it.")
    table = "device"
    key_column = "code"
    staff_roles = ("logistics", "admin")
    fields = (
        Field("kind", "enum", "What the device is.", column="kind", required=True,
              values=("gps_unit", "ais_gateway", "scanner")),
        Field("vehicle", "text", "The vehicle it is mounted on.", column="vehicle_id",
              ref=_VEHICLE),
        Field("site", "text", "The site a scanner is installed at.", column="site_id",
              ref=_SITE),
        Field("owntracksId", "text", "For OwnTracks: its \"{user}/{device}\".",
              column="owntracks_id", max_length=129),
        Field("enabled", "bool", "Whether its messages are accepted.", column="enabled",
              default=True),
    )

    def check(self, item: Item) -> None:
        key = item.record.key
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", key) or key.startswith("keylink-"):
            raise BadValue("a device's key is letters, digits, '_', '.' and '-', not "
                           "starting with 'keylink-'", "key")

    async def retire(self, tx: Executor, item: Item, refs: RefCache) -> None:
        row_id = await tx.fetchval("UPDATE device SET enabled = false WHERE code = $1"
                                   " RETURNING id", item.record.key)
        if row_id is None:
            raise NotFound(f"no device {item.record.key!r} to retire", field="key")
        item.row_id = row_id

    def events(self, item: Item) -> list[Event]:
        """Named as the device registry names its own changes."""
        change = ("disabled" if item.record.retire
                  else "registered" if item.inserted else "updated")
        return [(f"device.{change}", None, {"device": item.record.key,
                                            "key": item.record.key,
                                            "version": item.record.version})]


class Heat(Kind):
    name = "heat"
    title = "Heat"
    description = "A heat of steel: its grade, where and when it was tapped, its chemistry."
    table = "heat"
    key_column = "heat_no"
    staff_roles = ("quality", "admin")
    fields = (
        Field("grade", "text", "Steel grade.", column="grade", required=True),
        Field("site", "text", "The steel plant.", column="site_id", ref=_SITE),
        Field("tappedAt", "timestamp", "When it was tapped.", column="tapped_at",
              required=True),
        Field("weightT", "decimal", "Tapped weight, tonnes.", column="weight_t",
              required=True, exclusive_minimum=0, scale=3),
        Field("chemistry", "object", "Element symbol -> mass percent, as a decimal string "
              "(\"0.0020\").", column="chemistry", default={},
              items={"propertyNames": {"pattern": "^[A-Z][a-z]?$"},
                     "additionalProperties": {"type": "string",
                                              "pattern": r"^\d+(\.\d+)?$"},
                     "maxProperties": 40}),
    )


class Slab(Kind):
    name = "slab"
    title = "Slab"
    description = "A cast slab of a heat."
    table = "slab"
    key_column = "slab_no"
    staff_roles = ("quality", "admin")
    fields = (
        Field("heat", "text", "The heat it was cast from.", column="heat_id", ref=_HEAT,
              required=True),
        Field("weightKg", "decimal", "Weight, kg.", column="weight_kg", required=True,
              exclusive_minimum=0, scale=1),
        Field("thicknessMm", "decimal", "Thickness, mm.", column="thickness_mm",
              required=True, exclusive_minimum=0, scale=1),
        Field("widthMm", "decimal", "Width, mm.", column="width_mm", required=True,
              exclusive_minimum=0, scale=1),
        Field("lengthMm", "decimal", "Length, mm.", column="length_mm", required=True,
              exclusive_minimum=0, scale=1),
        Field("castAt", "timestamp", "When it was cast.", column="cast_at", required=True),
    )


_PARENT = {
    "type": "object",
    "properties": {
        "slab": {**_KEY, "description": "The parent slab's number (rolling)."},
        "coil": {**_KEY, "description": "The parent coil's number."},
        "operation": {"enum": ["roll", "slit", "cut"]},
        "inputWeightKg": _DECIMAL,
        "outputWeightKg": _DECIMAL,
        "occurredAt": _TIME,
    },
    "required": ["operation", "inputWeightKg", "outputWeightKg", "occurredAt"],
    "oneOf": [{"required": ["slab"]}, {"required": ["coil"]}],
    "additionalProperties": False,
}


class Coil(Kind):
    name = "coil"
    title = "Coil"
    description = ("A coil (or sheet pack): its heat, spec, dimensions, weight, quality "
                   "status, the contract line it is allocated to, and where it came from "
                   "(`parents`: the slab rolled or the coil slit or cut, with the weights "
                   "in and out). A coil's weight and its genealogy's output agree within "
                   "0.5 %, and the children of a parent take no more than it weighed.")
    table = "coil"
    key_column = "coil_no"
    staff_roles = ("quality", "production", "admin")
    fields = (
        Field("kind", "enum", "Product stage of the coil.", column="kind", required=True,
              values=("hot_rolled", "pickled", "cold_rolled", "annealed", "coated", "slit",
                      "sheet_pack")),
        Field("heat", "text", "The heat.", column="heat_id", ref=_HEAT, required=True),
        Field("slab", "text", "The slab it was rolled from.", column="slab_id", ref=_SLAB),
        Field("spec", "text", "The spec it is made to.", column="spec_id", ref=_SPEC),
        Field("contract", "text", "The contract it is allocated to (with lineNo)."),
        Field("lineNo", "int", "The contract line it is allocated to.", minimum=1),
        Field("thicknessMm", "decimal", "Thickness, mm.", column="thickness_mm",
              required=True, exclusive_minimum=0, scale=3),
        Field("widthMm", "decimal", "Width, mm.", column="width_mm", required=True,
              exclusive_minimum=0, scale=1),
        Field("weightKg", "decimal", "Weight, kg.", column="weight_kg", required=True,
              exclusive_minimum=0, scale=1),
        Field("qualityStatus", "enum", "Quality status: holds and releases.",
              column="quality_status", values=("pending", "released", "blocked",
                                               "downgraded"), default="pending"),
        Field("producedAt", "timestamp", "When it was produced.", column="produced_at",
              required=True),
        Field("parents", "array", "Where it came from.", items=_PARENT),
    )
    derived = _ALLOCATION

    def check(self, item: Item) -> None:
        data = item.record.data
        if (data.get("contract") is None) != (data.get("lineNo") is None):
            raise BadValue("contract and lineNo come together", "lineNo")
        weight = item.values["weight_kg"]
        parents = []
        for n, p in enumerate(data.get("parents") or []):
            w_in, w_out = Decimal(str(p["inputWeightKg"])), Decimal(str(p["outputWeightKg"]))
            if w_out > w_in * (1 + WEIGHT_TOLERANCE):
                raise BadValue("a parent's output weight exceeds what went in",
                               f"parents.{n}.outputWeightKg")
            if abs(w_out - weight) > weight * WEIGHT_TOLERANCE:
                raise BadValue(f"the output weight {w_out} kg disagrees with the coil's "
                               f"{weight} kg by more than 0.5 %", f"parents.{n}.outputWeightKg")
            if p.get("coil") == item.record.key:
                raise BadValue("a coil is not its own parent", f"parents.{n}.coil")
            parents.append({**p, "inputWeightKg": w_in, "outputWeightKg": w_out,
                            "occurredAt": _time(p["occurredAt"], f"parents.{n}.occurredAt")})
        item.extra["parents"] = parents
        item.values["line_id"] = item.values["customer_org_id"] = None

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        bad: list[tuple[Item, Rejection]] = []
        wanted = [(i.record.data["contract"], i.record.data["lineNo"]) for i in items
                  if i.record.data.get("contract") is not None]
        lines = await _contract_lines(tx, wanted)
        slabs, coils = await refs.ids_of(tx, [
            (_SLAB, [p["slab"] for i in items for p in i.extra["parents"] if "slab" in p]),
            (_COIL, [p["coil"] for i in items for p in i.extra["parents"] if "coil" in p])])
        in_chunk = {i.record.key for i in items}
        was = {r["coil_no"]: r["quality_status"] for r in await tx.fetch(
            "SELECT coil_no, quality_status FROM coil WHERE coil_no = ANY($1::text[])",
            [i.record.key for i in items])}
        for i in items:
            i.extra["was"] = was.get(i.record.key)
            # Parents already stored, by id: the genealogy is written without looking
            # them up again (a parent in the chunk gets its id as it is written).
            i.extra["parent_ids"] = [slabs.get(p["slab"]) if "slab" in p
                                     else coils.get(p["coil"]) for p in i.extra["parents"]]
            contract = i.record.data.get("contract")
            if contract is not None:
                line = lines.get((contract, i.record.data["lineNo"]))
                if line is None:
                    bad.append((i, self._reject(i.record, "lineNo",
                                                f"no line {i.record.data['lineNo']} on "
                                                f"contract {contract!r}", "NOT_FOUND")))
                    continue
                i.values["line_id"] = line["id"]
                i.values["customer_org_id"] = i.org_id = line["customer_org_id"]
            for n, p in enumerate(i.extra["parents"]):
                if "slab" in p and p["slab"] not in slabs:
                    bad.append((i, self._reject(i.record, f"parents.{n}.slab",
                                                f"no slab {p['slab']!r}", "NOT_FOUND")))
                    break
                if "coil" in p and p["coil"] not in coils and p["coil"] not in in_chunk:
                    bad.append((i, self._reject(i.record, f"parents.{n}.coil",
                                                f"no coil {p['coil']!r}", "NOT_FOUND")))
                    break
        return bad

    async def after_write(self, tx: Executor, items: list[Item]) -> None:
        # A coil updated has its genealogy replaced; one just inserted has none yet.
        again = [i.row_id for i in items if not i.inserted]
        here = {i.record.key: i.row_id for i in items}
        edges = [(i.row_id, p, ("coil" in p and here.get(p["coil"]))
                  or i.extra["parent_ids"][n])
                 for i in items for n, p in enumerate(i.extra["parents"])]
        if not edges and not again:
            return
        # One statement: the edges replaced and, against what each of their parents
        # weighed, what its children take: the edges stored before the statement, less
        # those it removes, and those it adds. A parent the ids do not name (one written
        # earlier in the chunk, record by record) is looked up by its key.
        over = await tx.fetch(
            "WITH d AS (DELETE FROM genealogy_edge WHERE child_coil_id = ANY($2::bigint[])"
            "   RETURNING parent_slab_id, parent_coil_id, input_weight_kg),"
            " u AS (SELECT (r->>0)::bigint AS child, r->>1 AS slab, r->>2 AS coil,"
            "   (r->>3)::bigint AS parent, r->>4 AS op, (r->>5)::numeric AS w_in,"
            "   (r->>6)::numeric AS w_out, (r->>7)::timestamptz AS at"
            " FROM jsonb_array_elements($1::text::jsonb) AS r),"
            " e AS (INSERT INTO genealogy_edge (parent_slab_id, parent_coil_id,"
            "   child_coil_id, operation, input_weight_kg, output_weight_kg, occurred_at)"
            " SELECT CASE WHEN u.slab IS NOT NULL THEN coalesce(u.parent,"
            "   (SELECT id FROM slab WHERE slab_no = u.slab)) END,"
            "  CASE WHEN u.coil IS NOT NULL THEN coalesce(u.parent,"
            "   (SELECT id FROM coil WHERE coil_no = u.coil)) END,"
            "  u.child, u.op, u.w_in, u.w_out, u.at FROM u"
            " RETURNING parent_slab_id, parent_coil_id, input_weight_kg),"
            # Each parent once (ids start at 1: 0 stands for none).
            " taken AS (SELECT coalesce(parent_slab_id, 0) AS sid,"
            "   coalesce(parent_coil_id, 0) AS cid, sum(input_weight_kg) AS kg FROM e"
            "   GROUP BY 1, 2),"
            " freed AS (SELECT coalesce(parent_slab_id, 0) AS sid,"
            "   coalesce(parent_coil_id, 0) AS cid, sum(input_weight_kg) AS kg FROM d"
            "   GROUP BY 1, 2)"
            " SELECT p.name AS parent FROM taken t LEFT JOIN freed f USING (sid, cid)"
            " CROSS JOIN LATERAL ("
            "   SELECT c.coil_no AS name, c.weight_kg AS kg, (SELECT sum(g.input_weight_kg)"
            "     FROM genealogy_edge g WHERE g.parent_coil_id = c.id) AS stored"
            "   FROM coil c WHERE c.id = t.cid"
            "   UNION ALL SELECT s.slab_no, s.weight_kg, (SELECT sum(g.input_weight_kg)"
            "     FROM genealogy_edge g WHERE g.parent_slab_id = s.id)"
            "   FROM slab s WHERE s.id = t.sid) AS p"
            " WHERE t.kg + coalesce(p.stored, 0) - coalesce(f.kg, 0) > p.kg * (1 + $3)"
            " ORDER BY 1 LIMIT 1",
            rows_json([(e[0], e[1].get("slab"), e[1].get("coil"), e[2], e[1]["operation"],
                        e[1]["inputWeightKg"], e[1]["outputWeightKg"], e[1]["occurredAt"])
                       for e in edges]), again, WEIGHT_TOLERANCE)
        if over:
            raise Invalid(f"the children of {over[0]['parent']} take more than it weighed",
                          field="data.parents")

    def events(self, item: Item) -> list[Event]:
        out = super().events(item)
        status = item.values.get("quality_status")
        if (not item.record.retire and status in ("released", "blocked", "downgraded")
                and item.extra.get("was") != status):
            out.append((f"coil.{status}", item.org_id,
                        {"key": item.record.key, "version": item.record.version}))
        return out


class Inspection(Kind):
    name = "inspection"
    title = "Inspection"
    description = ("One inspection of a coil and its result; keyed by the source "
                   "system's own id for it.")
    table = "inspection"
    key_column = "source_key"
    staff_roles = ("quality", "admin")
    fields = (
        Field("coil", "text", "The coil inspected.", column="coil_id", ref=_COIL,
              required=True),
        Field("kind", "enum", "What was inspected.", column="kind", required=True,
              values=("surface", "dimension", "mechanical", "coating", "flatness")),
        Field("result", "enum", "The result.", column="result", required=True,
              values=("pass", "fail", "conditional")),
        Field("inspectedAt", "timestamp", "When.", column="inspected_at", required=True),
        Field("inspector", "text", "Who.", column="inspector", required=True),
        Field("findings", "text", "What was found.", column="findings", max_length=4000),
    )

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        owners = {r["id"]: r["customer_org_id"] for r in await tx.fetch(
            "SELECT id, customer_org_id FROM coil WHERE id = ANY($1::bigint[])",
            [i.values["coil_id"] for i in items])}
        for i in items:
            i.org_id = owners.get(i.values["coil_id"])
        return []



class Certificate(Kind):
    name = "certificate"
    title = "Inspection certificate"
    description = ("An EN 10204 inspection certificate of a coil from the mill's quality "
                   "system: the measured mechanics and coating (the chemistry is the "
                   "heat's). It is checked against the current limits of the coil's spec "
                   "and composed into the same canonical content and hash as a certificate "
                   "issued in the platform; a coil still pending is released by it.")
    table = "quality_certificate"
    key_column = "cert_no"
    staff_roles = ("quality", "admin")
    fields = (
        Field("coil", "text", "The coil certified.", required=True, ref=_COIL),
        Field("certificateType", "enum", "EN 10204 type.", values=("2.2", "3.1", "3.2"),
              default="3.1"),
        Field("yieldStrengthMpa", "decimal", "Yield strength, MPa.", required=True,
              exclusive_minimum=0, scale=1),
        Field("tensileStrengthMpa", "decimal", "Tensile strength, MPa.", required=True,
              exclusive_minimum=0, scale=1),
        Field("elongationPct", "decimal", "Elongation after fracture, %.", required=True,
              exclusive_minimum=0, scale=1),
        Field("coatingDesignation", "text", "Coating designation, e.g. Z275.",
              max_length=20),
        Field("coatingMassGM2", "decimal", "Coating mass, g/m2 (both sides).",
              exclusive_minimum=0, scale=1),
        Field("issuedAt", "timestamp", "When it was issued.", required=True),
        Field("issuedBy", "text", "Who issued it.", required=True, max_length=64),
    )

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        wanted = sorted({i.record.data["coil"] for i in items})
        # The specs' limits cannot change between the check and the certificates that
        # name their revision.
        await tx.execute("SELECT 1 FROM steel_spec WHERE id IN (SELECT spec_id FROM coil"
                         " WHERE coil_no = ANY($1::text[])) FOR SHARE", wanted)
        coils = {r["coil_no"]: r for r in await tx.fetch(
            f"SELECT {CERTIFY_COLUMNS}, q.cert_no AS certified_as FROM {CERTIFY_FROM}"
            " LEFT JOIN quality_certificate q ON q.coil_id = c.id"
            " WHERE c.coil_no = ANY($1::text[])", wanted)}
        bad = []
        for i in items:
            data = i.record.data
            coil = coils.get(data["coil"])
            if coil is None:
                bad.append((i, self._reject(i.record, "coil", f"no coil {data['coil']!r}",
                                            "NOT_FOUND")))
                continue
            if coil["certified_as"] not in (None, i.record.key):
                bad.append((i, self._reject(i.record, "coil", f"coil {data['coil']} has "
                                            f"certificate {coil['certified_as']}", "CONFLICT")))
                continue
            given = CertificateInput(
                coil_id=coil["id"], yield_strength_mpa=Decimal(str(data["yieldStrengthMpa"])),
                tensile_strength_mpa=Decimal(str(data["tensileStrengthMpa"])),
                elongation_pct=Decimal(str(data["elongationPct"])),
                coating_designation=data.get("coatingDesignation"),
                coating_mass_g_m2=(Decimal(str(data["coatingMassGM2"]))
                                   if data.get("coatingMassGM2") is not None else None),
                certificate_type=data.get("certificateType") or "3.1")
            try:
                i.extra["made"] = certify(
                    coil, given, cert_no=i.record.key,
                    issued_at=_time(data["issuedAt"], "issuedAt"), issued_by=data["issuedBy"])
            except (DomainError, BadValue) as exc:
                code = exc.code if isinstance(exc, DomainError) else "INVALID"
                path = exc.field if isinstance(exc, DomainError) else exc.path
                bad.append((i, self._reject(i.record, path, str(exc), code)))
                continue
            i.org_id = coil["customer_org_id"]
        return bad

    async def write(self, tx: Executor, items: list[Item], refs: RefCache) -> None:
        made: list[Certified] = [i.extra["made"] for i in items]
        rows = await tx.fetch(
            "INSERT INTO quality_certificate (cert_no, certificate_type, coil_id, heat_id,"
            " customer_org_id, chemistry, yield_strength_mpa, tensile_strength_mpa,"
            " elongation_pct, coating_designation, coating_mass_g_m2, issued_at, issued_by,"
            " content, content_hash, limits, limits_revision)"
            " SELECT u.cert_no, u.t, u.coil, u.heat, u.org, u.chem::jsonb, u.ys, u.ts, u.el,"
            "   u.cd, u.cm, u.at, u.by, u.content::jsonb, u.hash, u.limits::jsonb, u.rev"
            " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],"
            "   $6::text[], $7::numeric[], $8::numeric[], $9::numeric[], $10::text[],"
            "   $11::numeric[], $12::timestamptz[], $13::text[], $14::text[], $15::text[],"
            "   $16::text[], $17::int[])"
            "   AS u(cert_no, t, coil, heat, org, chem, ys, ts, el, cd, cm, at, by, content,"
            "        hash, limits, rev)"
            " ON CONFLICT (cert_no) DO UPDATE SET certificate_type = EXCLUDED.certificate_type,"
            " coil_id = EXCLUDED.coil_id, heat_id = EXCLUDED.heat_id,"
            " customer_org_id = EXCLUDED.customer_org_id, chemistry = EXCLUDED.chemistry,"
            " yield_strength_mpa = EXCLUDED.yield_strength_mpa,"
            " tensile_strength_mpa = EXCLUDED.tensile_strength_mpa,"
            " elongation_pct = EXCLUDED.elongation_pct,"
            " coating_designation = EXCLUDED.coating_designation,"
            " coating_mass_g_m2 = EXCLUDED.coating_mass_g_m2, issued_at = EXCLUDED.issued_at,"
            " issued_by = EXCLUDED.issued_by, content = EXCLUDED.content,"
            " content_hash = EXCLUDED.content_hash, limits = EXCLUDED.limits,"
            " limits_revision = EXCLUDED.limits_revision"
            " RETURNING id, cert_no, (xmax = 0) AS inserted",
            [m.cert_no for m in made], [m.certificate_type for m in made],
            [m.coil_id for m in made], [m.heat_id for m in made],
            [m.customer_org_id for m in made], [json_dumps(m.chemistry) for m in made],
            [m.yield_strength_mpa for m in made], [m.tensile_strength_mpa for m in made],
            [m.elongation_pct for m in made], [m.coating_designation for m in made],
            [m.coating_mass_g_m2 for m in made], [m.issued_at for m in made],
            [m.issued_by for m in made], [json_dumps(m.content) for m in made],
            [m.content_hash for m in made],
            [json_dumps(m.limits) if m.limits is not None else None for m in made],
            [m.limits_revision for m in made])
        by_key = {r["cert_no"]: r for r in rows}
        for i in items:
            i.row_id, i.inserted = by_key[i.record.key]["id"], by_key[i.record.key]["inserted"]
        await tx.execute("UPDATE coil SET quality_status = 'released'"
                         " WHERE id = ANY($1::bigint[]) AND quality_status = 'pending'",
                         [m.coil_id for m in made])

    def events(self, item: Item) -> list[Event]:
        if item.record.retire:
            return super().events(item)
        made: Certified = item.extra["made"]
        return [(CERTIFICATE_ISSUED, made.customer_org_id,
                 issued_payload(made) | {"key": item.record.key,
                                         "version": item.record.version},
                 "coil", made.coil_id)]


_LINE = {
    "type": "object",
    "properties": {
        "lineNo": {"type": "integer", "minimum": 1, "maximum": 999},
        "spec": {**_KEY, "description": "The spec's code."},
        "quantityT": _DECIMAL,
        "unitPrice": _DECIMAL,
        "deliveryFrom": _DATE,
        "deliveryTo": _DATE,
        "deliverySite": {**_KEY, "description": "The delivery site's code."},
        "transportMode": {"enum": ["road", "rail", "water"]},
        "transitDays": {"type": "integer", "minimum": 0, "maximum": 120},
        "firmness": {"enum": ["firm", "commitment_production", "commitment_material",
                              "forecast"]},
    },
    "required": ["lineNo", "spec", "quantityT", "unitPrice", "deliveryFrom", "deliveryTo",
                 "transportMode"],
    "additionalProperties": False,
}


class Contract(Kind):
    name = "contract"
    title = "Contract"
    description = ("A contract made in the mill's ERP, with its own number and its lines. "
                   "`status` may be draft, confirmed (the default) or cancelled; once in "
                   "production its status is the platform's. A line absent from a later "
                   "version is removed while nothing was made for it. Retiring cancels "
                   "a contract nothing has been shipped of.")
    table = "contract"
    key_column = "number"
    staff_roles = ("sales", "admin")
    fields = (
        Field("customer", "text", "The customer.", column="customer_org_id", ref=_ORG,
              required=True),
        Field("currency", "text", "ISO 4217 currency.", column="currency",
              default="CNY", pattern="^[A-Z]{3}$", max_length=3),
        Field("incoterm", "text", "Incoterm.", column="incoterm", default="DAP",
              max_length=3),
        Field("signedOn", "date", "When it was signed.", column="signed_on"),
        Field("salesOwner", "text", "The mill's sales owner (a token subject).",
              column="sales_owner"),
        Field("status", "enum", "draft, confirmed or cancelled.",
              values=("draft", "confirmed", "cancelled"), default="confirmed"),
        Field("lines", "array", "The contract's lines.", required=True,
              items=_LINE, extra={"minItems": 1, "maxItems": 500}),
    )

    def check(self, item: Item) -> None:
        lines = item.record.data["lines"]
        numbers = [ln["lineNo"] for ln in lines]
        if len(set(numbers)) != len(numbers):
            raise BadValue("line numbers repeat", "lines")
        parsed = []
        for n, ln in enumerate(lines):
            start = _date(ln["deliveryFrom"], f"lines.{n}.deliveryFrom")
            end = _date(ln["deliveryTo"], f"lines.{n}.deliveryTo")
            if end < start:
                raise BadValue("deliveryTo is before deliveryFrom", f"lines.{n}.deliveryTo")
            amounts = {name: Decimal(str(ln[name])) for name in ("quantityT", "unitPrice")}
            for name, value in amounts.items():
                if value < 0 or (name == "quantityT" and value == 0):
                    raise BadValue(f"{name} must be positive", f"lines.{n}.{name}")
            parsed.append({**ln, **amounts, "deliveryFrom": start, "deliveryTo": end})
        item.extra["given"] = parsed

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        lines = [ln for i in items for ln in i.extra["given"]]
        specs = await refs.ids(tx, _SPEC, [ln["spec"] for ln in lines])
        sites = await refs.ids(tx, _SITE, [ln["deliverySite"] for ln in lines
                                           if ln.get("deliverySite")])
        bad = []
        for i in items:
            i.org_id = i.values["customer_org_id"]
            for n, ln in enumerate(i.extra["given"]):
                if ln["spec"] not in specs:
                    bad.append((i, self._reject(i.record, f"lines.{n}.spec",
                                                f"no spec {ln['spec']!r}", "NOT_FOUND")))
                    break
                if ln.get("deliverySite") and ln["deliverySite"] not in sites:
                    bad.append((i, self._reject(i.record, f"lines.{n}.deliverySite",
                                                f"no site {ln['deliverySite']!r}", "NOT_FOUND")))
                    break
            else:
                i.extra["lines"] = [
                    (ln["lineNo"], specs[ln["spec"]], ln["quantityT"], ln["unitPrice"],
                     ln["deliveryFrom"], ln["deliveryTo"],
                     sites.get(ln.get("deliverySite") or ""), ln["transportMode"],
                     ln.get("transitDays", 3), ln.get("firmness", "firm"))
                    for ln in i.extra["given"]]
        return bad

    async def after_write(self, tx: Executor, items: list[Item]) -> None:
        for i in items:
            await self._status(tx, i)
            await self._lines(tx, i)

    async def _status(self, tx: Executor, item: Item) -> None:
        wanted = item.record.data.get("status") or "confirmed"
        current = await tx.fetchval("SELECT status FROM contract WHERE id = $1", item.row_id)
        moves = {("draft", "confirmed"), ("draft", "cancelled"), ("confirmed", "cancelled")}
        if item.inserted or (current, wanted) in moves:
            await tx.execute(
                "UPDATE contract SET status = $2, updated_at = now(), confirmed_at ="
                " CASE WHEN $2 = 'confirmed' THEN coalesce(confirmed_at, now())"
                " ELSE confirmed_at END WHERE id = $1", item.row_id, wanted)
        elif wanted == "cancelled" and current != "cancelled":
            raise Conflict(f"contract {item.record.key} is {current}: it can no longer be "
                           "cancelled", field="data.status")

    async def _lines(self, tx: Executor, item: Item) -> None:
        lines = item.extra["lines"]
        removed = await tx.fetch(
            "SELECT l.line_no FROM contract_line l WHERE l.contract_id = $1"
            " AND NOT l.line_no = ANY($2::int[]) AND (EXISTS (SELECT 1 FROM coil c"
            " WHERE c.line_id = l.id) OR EXISTS (SELECT 1 FROM production_order o"
            " WHERE o.line_id = l.id))", item.row_id, [ln[0] for ln in lines])
        if removed:
            raise Conflict(f"line {removed[0]['line_no']} has coils or a production order: "
                           "it cannot be removed", field="data.lines")
        await tx.execute(
            "DELETE FROM contract_line WHERE contract_id = $1 AND NOT line_no = ANY($2::int[])",
            item.row_id, [ln[0] for ln in lines])
        await tx.execute(
            "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id,"
            " quantity_t, unit_price, delivery_from, delivery_to, delivery_site_id,"
            " transport_mode, transit_days, firmness, status)"
            " SELECT $1, c.customer_org_id, u.*, c.status FROM contract c,"
            " unnest($2::int[], $3::bigint[], $4::numeric[], $5::numeric[], $6::date[],"
            "        $7::date[], $8::bigint[], $9::text[], $10::int[], $11::text[]) AS u"
            " WHERE c.id = $1"
            " ON CONFLICT (contract_id, line_no) DO UPDATE SET spec_id = EXCLUDED.spec_id,"
            " quantity_t = EXCLUDED.quantity_t, unit_price = EXCLUDED.unit_price,"
            " delivery_from = EXCLUDED.delivery_from, delivery_to = EXCLUDED.delivery_to,"
            " delivery_site_id = EXCLUDED.delivery_site_id,"
            " transport_mode = EXCLUDED.transport_mode, transit_days = EXCLUDED.transit_days,"
            " firmness = EXCLUDED.firmness, customer_org_id = EXCLUDED.customer_org_id,"
            " status = CASE WHEN contract_line.status IN ('draft', 'confirmed', 'cancelled')"
            "   THEN EXCLUDED.status ELSE contract_line.status END",
            item.row_id, *(list(col) for col in zip(*lines, strict=True)))

    async def retire(self, tx: Executor, item: Item, refs: RefCache) -> None:
        row = await tx.fetchrow("SELECT id, status, customer_org_id FROM contract"
                                " WHERE number = $1 FOR UPDATE", item.record.key)
        if row is None:
            raise NotFound(f"no contract {item.record.key!r} to retire", field="key")
        if row["status"] not in ("draft", "confirmed", "in_production"):
            raise Conflict(f"contract {item.record.key} is {row['status']}: it can no "
                           "longer be cancelled")
        await tx.execute("UPDATE contract SET status = 'cancelled', updated_at = now()"
                         " WHERE id = $1", row["id"])
        await tx.execute("UPDATE contract_line SET status = 'cancelled' WHERE contract_id = $1",
                         row["id"])
        item.row_id, item.org_id = row["id"], row["customer_org_id"]


_STAGE = {
    "type": "object",
    "properties": {
        "stage": {"enum": ["steelmaking", "casting", "hot_rolling", "pickling",
                           "cold_rolling", "annealing", "coating", "finishing", "inspection",
                           "packing", "warehoused"]},
        "plannedStart": _DATE,
        "plannedEnd": _DATE,
        "plannedT": _DECIMAL,
    },
    "required": ["stage", "plannedStart", "plannedEnd", "plannedT"],
    "additionalProperties": False,
}


class ProductionOrder(Kind):
    name = "production_order"
    title = "Production order"
    description = ("The mill's order to make a contract line, with the stages it goes "
                   "through and their planned dates and tonnes. A stage absent from a later "
                   "version is removed while nothing was recorded of it.")
    table = "production_order"
    key_column = "order_no"
    staff_roles = ("production", "admin")
    fields = (
        Field("contract", "text", "The contract's number.", required=True),
        Field("lineNo", "int", "The line's number.", required=True, minimum=1),
        Field("quantityT", "decimal", "Tonnes to make.", column="quantity_t", required=True,
              exclusive_minimum=0, scale=3),
        Field("stages", "array", "The route with its plan.", required=True, items=_STAGE,
              extra={"minItems": 1, "maxItems": 11}),
    )
    derived = _ALLOCATION

    def check(self, item: Item) -> None:
        stages = item.record.data["stages"]
        names = [s["stage"] for s in stages]
        if len(set(names)) != len(names):
            raise BadValue("a stage repeats", "stages")
        parsed = []
        for n, st in enumerate(stages):
            start = _date(st["plannedStart"], f"stages.{n}.plannedStart")
            end = _date(st["plannedEnd"], f"stages.{n}.plannedEnd")
            if end < start:
                raise BadValue("plannedEnd is before plannedStart", f"stages.{n}.plannedEnd")
            tonnes = Decimal(str(st["plannedT"]))
            if tonnes <= 0:
                raise BadValue("plannedT must be positive", f"stages.{n}.plannedT")
            parsed.append((st["stage"], start, end, tonnes))
        item.extra["stages"] = parsed
        item.values["line_id"] = item.values["customer_org_id"] = None

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        wanted = [(i.record.data["contract"], i.record.data["lineNo"]) for i in items]
        lines = await _contract_lines(tx, wanted)
        bad = []
        for i, w in zip(items, wanted, strict=True):
            line = lines.get(w)
            if line is None:
                bad.append((i, self._reject(i.record, "lineNo",
                                            f"no line {w[1]} on contract {w[0]!r}",
                                            "NOT_FOUND")))
                continue
            i.values["line_id"] = line["id"]
            i.values["customer_org_id"] = i.org_id = line["customer_org_id"]
        return bad

    async def after_write(self, tx: Executor, items: list[Item]) -> None:
        for i in items:
            stages = i.extra["stages"]
            kept = await tx.fetch(
                "SELECT p.stage FROM production_stage_plan p WHERE p.order_id = $1"
                " AND NOT p.stage = ANY($2::text[]) AND EXISTS (SELECT 1 FROM progress_event e"
                " WHERE e.order_id = p.order_id AND e.stage = p.stage)",
                i.row_id, [st[0] for st in stages])
            if kept:
                raise Conflict(f"progress was recorded at {kept[0]['stage']}: the stage "
                               "cannot be removed", field="data.stages")
            await tx.execute("DELETE FROM production_stage_plan WHERE order_id = $1"
                             " AND NOT stage = ANY($2::text[])",
                             i.row_id, [st[0] for st in stages])
            await tx.execute(
                "INSERT INTO production_stage_plan (order_id, stage, planned_start,"
                " planned_end, planned_t) SELECT $1, * FROM unnest($2::text[], $3::date[],"
                " $4::date[], $5::numeric[]) ON CONFLICT (order_id, stage) DO UPDATE SET"
                " planned_start = EXCLUDED.planned_start, planned_end = EXCLUDED.planned_end,"
                " planned_t = EXCLUDED.planned_t",
                i.row_id, *(list(col) for col in zip(*stages, strict=True)))


_LEG = {
    "type": "object",
    "properties": {
        "mode": {"enum": ["road", "rail", "water"]},
        "vehicle": {**_KEY, "description": "The vehicle's code."},
        "origin": {**_KEY, "description": "The origin site's code."},
        "destination": {**_KEY, "description": "The destination site's code."},
        "plannedDeparture": _TIME,
        "plannedArrival": _TIME,
        "promisedBy": _TIME,
        "coils": {"type": "array", "items": _KEY, "maxItems": 2000, "uniqueItems": True,
                  "description": "The manifest: the coils aboard, by number."},
    },
    "required": ["mode", "origin", "destination", "plannedDeparture", "plannedArrival"],
    "additionalProperties": False,
}


class Shipment(Kind):
    name = "shipment"
    title = "Shipment"
    description = ("A shipment with its legs in order (mode, vehicle, origin, destination, "
                   "planned times, the promise) and each leg's manifest. Each leg starts "
                   "where the previous one ended; a coil is on one open shipment at a "
                   "time. Once a leg has left, its vehicle and manifest stay as they "
                   "were. Retiring cancels a shipment none of whose legs has left.")
    table = "shipment"
    key_column = "number"
    staff_roles = ("logistics", "admin")
    fields = (
        Field("carrier", "text", "The carrier.", column="carrier_org_id", ref=_ORG),
        Field("legs", "array", "The legs, in order.", required=True, items=_LEG,
              extra={"minItems": 1, "maxItems": 20}),
    )

    def check(self, item: Item) -> None:
        legs = item.record.data["legs"]
        for n, (prev, leg) in enumerate(itertools.pairwise(legs), start=1):
            if leg["origin"] != prev["destination"]:
                raise BadValue("each leg starts where the previous one ended",
                               f"legs.{n}.origin")
        times = []
        for n, leg in enumerate(legs):
            if leg["origin"] == leg["destination"]:
                raise BadValue("a leg goes somewhere else", f"legs.{n}.destination")
            departs = _time(leg["plannedDeparture"], f"legs.{n}.plannedDeparture")
            arrives = _time(leg["plannedArrival"], f"legs.{n}.plannedArrival")
            if arrives < departs:
                raise BadValue("plannedArrival is before plannedDeparture",
                               f"legs.{n}.plannedArrival")
            promised = (_time(leg["promisedBy"], f"legs.{n}.promisedBy")
                        if leg.get("promisedBy") else None)
            times.append((departs, arrives, promised))
        item.extra["times"] = times

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        legs = [leg for i in items for leg in i.record.data["legs"]]
        sites = await refs.ids(tx, _SITE, [s for leg in legs
                                           for s in (leg["origin"], leg["destination"])])
        vehicles = await refs.ids(tx, _VEHICLE, [leg["vehicle"] for leg in legs
                                                 if leg.get("vehicle")])
        coils = await refs.ids(tx, _COIL, [c for leg in legs for c in leg.get("coils", ())])
        bad = []
        for i in items:
            rejection = _missing(self, i, sites, vehicles, coils)
            if rejection is not None:
                bad.append((i, rejection))
                continue
            i.extra["legs"] = [
                (n, leg["mode"], vehicles.get(leg.get("vehicle") or ""),
                 sites[leg["origin"]], sites[leg["destination"]], *i.extra["times"][n - 1],
                 [coils[c] for c in leg.get("coils", ())])
                for n, leg in enumerate(i.record.data["legs"], start=1)]
        # A coil is on one open shipment at a time.
        ok = [i for i in items if "legs" in i.extra]
        pairs = [(i.record.key, c) for i in ok for leg in i.extra["legs"] for c in leg[8]]
        if pairs:
            # Two writers putting one coil on two shipments: the second waits here for the
            # first to commit, then sees its manifest.
            await lock_coils(tx, [p[1] for p in pairs])
            taken = {(r["coil_id"]): r for r in await tx.fetch(
                "SELECT DISTINCT ON (lc.coil_id) lc.coil_id, s.number, c.coil_no"
                " FROM leg_coil lc JOIN shipment_leg l ON l.id = lc.leg_id"
                " JOIN shipment s ON s.id = l.shipment_id JOIN coil c ON c.id = lc.coil_id"
                " WHERE lc.coil_id = ANY($1::bigint[]) AND l.status = ANY($2::text[])",
                [p[1] for p in pairs], list(ACTIVE))}
            for i in ok:
                for leg in i.extra["legs"]:
                    clash = next((taken[c] for c in leg[8] if c in taken
                                  and taken[c]["number"] != i.record.key), None)
                    if clash is not None:
                        bad.append((i, self._reject(
                            i.record, f"legs.{leg[0] - 1}.coils",
                            f"coil {clash['coil_no']} is on open shipment {clash['number']}",
                            "CONFLICT")))
                        break
        return bad

    async def after_write(self, tx: Executor, items: list[Item]) -> None:
        for i in items:
            await self._legs(tx, i)
            i.extra["customers"] = await sync_shipment_customers(tx, i.row_id or 0)

    async def _legs(self, tx: Executor, item: Item) -> None:
        await tx.execute("SELECT 1 FROM shipment_leg WHERE shipment_id = $1 FOR UPDATE",
                         item.row_id)
        current = {r["seq"]: r for r in await tx.fetch(
            "SELECT l.id, l.seq, l.status, l.vehicle_id, array_agg(lc.coil_id ORDER BY"
            " lc.coil_id) FILTER (WHERE lc.coil_id IS NOT NULL) AS coils"
            " FROM shipment_leg l LEFT JOIN leg_coil lc ON lc.leg_id = l.id"
            " WHERE l.shipment_id = $1 GROUP BY l.id", item.row_id)}
        legs = item.extra["legs"]
        for seq, row in current.items():
            if row["status"] in ("planned", "cancelled"):
                continue
            leg = legs[seq - 1] if seq <= len(legs) else None
            if leg is None:
                raise Conflict(f"leg {seq} has left: it cannot be removed",
                               field="data.legs")
            if leg[2] != row["vehicle_id"] or sorted(leg[8]) != list(row["coils"] or []):
                raise Conflict(f"leg {seq} has left: its vehicle and manifest stay as they "
                               "were", field=f"data.legs.{seq - 1}")
        await tx.execute("DELETE FROM shipment_leg WHERE shipment_id = $1 AND seq > $2",
                         item.row_id, len(legs))
        for n, mode, vehicle, origin, destination, departs, arrives, promised, coils in legs:
            leg_id = await tx.fetchval(
                "INSERT INTO shipment_leg (shipment_id, seq, mode, vehicle_id, origin_site_id,"
                " destination_site_id, planned_departure, planned_arrival, promised_by)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                " ON CONFLICT (shipment_id, seq) DO UPDATE SET mode = EXCLUDED.mode,"
                " vehicle_id = EXCLUDED.vehicle_id, origin_site_id = EXCLUDED.origin_site_id,"
                " destination_site_id = EXCLUDED.destination_site_id,"
                " planned_departure = EXCLUDED.planned_departure,"
                " planned_arrival = EXCLUDED.planned_arrival,"
                " promised_by = EXCLUDED.promised_by RETURNING id",
                item.row_id, n, mode, vehicle, origin, destination, departs, arrives, promised)
            if current.get(n) is None or current[n]["status"] in ("planned", "cancelled"):
                await tx.execute("DELETE FROM leg_coil WHERE leg_id = $1", leg_id)
                await tx.execute("INSERT INTO leg_coil (leg_id, coil_id)"
                                 " SELECT $1, unnest($2::bigint[])", leg_id, coils)

    async def retire(self, tx: Executor, item: Item, refs: RefCache) -> None:
        row = await tx.fetchrow("SELECT id, status FROM shipment WHERE number = $1 FOR UPDATE",
                                item.record.key)
        if row is None:
            raise NotFound(f"no shipment {item.record.key!r} to retire", field="key")
        left = await tx.fetchval("SELECT count(*) FROM shipment_leg WHERE shipment_id = $1"
                                 " AND status NOT IN ('planned', 'cancelled')", row["id"])
        if left:
            raise Conflict(f"shipment {item.record.key} has left: it cannot be cancelled")
        await tx.execute("UPDATE shipment_leg SET status = 'cancelled' WHERE shipment_id = $1",
                         row["id"])
        await tx.execute("UPDATE shipment SET status = 'cancelled', updated_at = now()"
                         " WHERE id = $1", row["id"])
        item.row_id = row["id"]
        item.extra["customers"] = [r["org_id"] for r in await tx.fetch(
            "SELECT org_id FROM shipment_customer WHERE shipment_id = $1 ORDER BY org_id",
            row["id"])]

    def events(self, item: Item) -> list[Event]:
        change = ("cancelled" if item.record.retire
                  else "created" if item.inserted else "updated")
        payload = {"number": item.record.key, "key": item.record.key,
                   "version": item.record.version,
                   "legs": len(item.record.data.get("legs", ()))}
        return [(f"shipment.{change}", org, payload)
                for org in item.extra.get("customers") or [None]]


async def _contract_lines(tx: Executor, wanted: list[tuple[str, int]]
                          ) -> dict[tuple[str, int], Any]:
    """The contract lines named by (contract number, line number), with their customer:
    what a coil is allocated to and a production order makes."""
    if not wanted:
        return {}
    return {(r["number"], r["line_no"]): r for r in await tx.fetch(
        "SELECT c.number, l.line_no, l.id, l.customer_org_id FROM contract_line l"
        " JOIN contract c ON c.id = l.contract_id"
        " WHERE (c.number, l.line_no) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
        [w[0] for w in wanted], [w[1] for w in wanted])}


def _missing(kind: Kind, item: Item, sites: dict[str, int], vehicles: dict[str, int],
             coils: dict[str, int]) -> Rejection | None:
    for n, leg in enumerate(item.record.data["legs"]):
        for name in ("origin", "destination"):
            if leg[name] not in sites:
                return kind._reject(item.record, f"legs.{n}.{name}",
                                    f"no site {leg[name]!r}", "NOT_FOUND")
        if leg.get("vehicle") and leg["vehicle"] not in vehicles:
            return kind._reject(item.record, f"legs.{n}.vehicle",
                                f"no vehicle {leg['vehicle']!r}", "NOT_FOUND")
        for m, c in enumerate(leg.get("coils", ())):
            if c not in coils:
                return kind._reject(item.record, f"legs.{n}.coils.{m}", f"no coil {c!r}",
                                    "NOT_FOUND")
    return None


def _time(value: str, path: str) -> datetime:
    """A nested time, already checked as RFC 3339 by the schema."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{value!r} is not a time this platform can read", path) from None


_SETTLEMENT = Ref("settlement", "number", "settlement")


class Payment(Kind):
    name = "payment"
    title = "Payment"
    description = ("A payment received against a settlement's issued invoice, keyed by the "
                   "reference the bank or the mill's ERP gives it. The payments of an "
                   "invoice may not add up to more than its total; once they cover it, the "
                   "invoice is paid on the day of the last (and a contract whose goods have "
                   "all left the mill is settled). A draft or void invoice takes none.")
    table = "payment"
    key_column = "reference"
    staff_roles = ("finance", "admin")
    fields = (
        Field("settlement", "text", "The settlement whose invoice is paid.",
              column="settlement_id", ref=_SETTLEMENT, required=True),
        Field("amount", "decimal", "The amount received, to the cent, in the invoice's "
              "currency.", column="amount", required=True, exclusive_minimum=0, scale=2),
        Field("paidOn", "date", "The day it was received (the mill's calendar).",
              column="paid_on", required=True),
    )
    derived = (Field("customerId", "int", "", column="customer_org_id"),)

    def check(self, item: Item) -> None:
        if item.values["paid_on"] > mill_today():
            raise BadValue(f"{item.values['paid_on']} is in the future", "paidOn")

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        invoices = {r["id"]: r for r in await tx.fetch(
            "SELECT id, number, customer_org_id, invoice_status, issued_on FROM settlement"
            " WHERE id = ANY($1::bigint[])", [i.values["settlement_id"] for i in items])}
        bad = []
        for i in items:
            invoice = invoices[i.values["settlement_id"]]
            if invoice["invoice_status"] in ("draft", "void"):
                bad.append((i, self._reject(
                    i.record, "settlement", f"settlement {invoice['number']} is "
                    f"{invoice['invoice_status']}: only an issued invoice takes payments",
                    "INVALID_TRANSITION")))
            elif invoice["issued_on"] is not None and i.values["paid_on"] < invoice["issued_on"]:
                bad.append((i, self._reject(
                    i.record, "paidOn", f"paid before the invoice was issued on "
                    f"{invoice['issued_on']}")))
            i.values["customer_org_id"] = i.org_id = invoice["customer_org_id"]
        return bad

    async def after_write(self, tx: Executor, items: list[Item]) -> None:
        ids = sorted({i.values["settlement_id"] for i in items})
        over = await tx.fetchrow(
            "SELECT s.number, s.total_amount, sum(p.amount) AS paid FROM settlement s"
            " JOIN payment p ON p.settlement_id = s.id WHERE s.id = ANY($1::bigint[])"
            " GROUP BY s.id HAVING sum(p.amount) > s.total_amount ORDER BY s.id LIMIT 1", ids)
        if over is not None:
            raise Conflict(f"the payments of settlement {over['number']} would come to "
                           f"{over['paid']}, more than its total {over['total_amount']}",
                           field="data.amount")
        paid = {p.settlement.id: p for p in await paid_by_payments(tx, ids)}
        for i in items:
            found = paid.pop(i.values["settlement_id"], None)
            if found is not None:
                i.extra["paid"] = found

    async def retire(self, tx: Executor, item: Item, refs: RefCache) -> None:
        """A payment is withdrawn (a bounced transfer) only while its invoice is unpaid:
        a paid invoice's payments stand."""
        row = await tx.fetchrow(
            "SELECT p.id, p.customer_org_id, s.number, s.invoice_status FROM payment p"
            " JOIN settlement s ON s.id = p.settlement_id WHERE p.reference = $1"
            " FOR UPDATE OF p, s", item.record.key)
        if row is None:
            raise NotFound(f"no payment {item.record.key!r} to retire", field="key")
        if row["invoice_status"] == "paid":
            raise Conflict(f"settlement {row['number']} is paid: its payments stand")
        await tx.execute("DELETE FROM payment WHERE id = $1", row["id"])
        item.row_id, item.org_id = row["id"], row["customer_org_id"]
        refs.forget(self.table, self.key_column, item.record.key)

    def events(self, item: Item) -> list[Event]:
        out = super().events(item)
        paid = item.extra.get("paid")
        if isinstance(paid, PaidInFull):
            out.append(("settlement.paid", paid.settlement.customer_org_id,
                        paid_event_payload(paid), "settlement", paid.settlement.id))
            c = paid.settled
            if c is not None:
                out.append((f"contract.{c.status}", c.customer_org_id,
                            {"contract": c.number, "shipped_t": c.shipped_t},
                            "contract", c.contract_id))
        return out


def _date(value: str, path: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{value!r} is not a date", path) from None


KINDS: dict[str, Kind] = {k.name: k for k in (
    Organization(), Site(), Spec(), Vehicle(), Device(), Heat(), Slab(), Coil(),
    Inspection(), Certificate(), Contract(), ProductionOrder(), Shipment(), Payment(),
)}
