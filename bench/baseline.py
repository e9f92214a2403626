"""The baselines the GraphQL benchmark is measured against: plain Starlette endpoints that
fetch the same data as each benchmark query with hand-written asyncpg statements and
return JSON. Served from the same process as the API, so both share the machine alike.

The benchmark's app also counts, per route, the requests served and the SQL statements
they ran (:func:`domain.db.count_statements` around each request), and reports them with
the process's CPU time at `/baseline/stats`: statements and CPU per request.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from domain.db import count_statements
from domain.disputes import containment
from domain.tenancy import Scope as Visibility
from settings import Settings

QUERY = """{ contracts(first: 20) { nodes { number status lines { lineNo quantityT
  spec { grade thicknessMm widthMm coating }
  progress { currentStage shareDone predictedFinish isLate lateDays
             stages { stage plannedEnd actualEnd completed } }
  coils(first: 10) { nodes { coilNo weightKg
                             certificate { certNo contentHash yieldStrengthMpa } } } } } } }"""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value.isoformat()


async def contracts(request: Request) -> Response:
    services = request.app.state.services
    claims = services.codec.verify(request.headers["authorization"].split(" ", 1)[1])
    db = services.db
    org = await db.fetchval("SELECT id FROM organization WHERE code = $1", claims.org_code)
    rows = await db.fetch(
        "SELECT id, number, status FROM contract WHERE customer_org_id = $1 ORDER BY id LIMIT 20",
        org)
    ids = [r["id"] for r in rows]
    lines = await db.fetch(
        "SELECT l.id, l.contract_id, l.line_no, l.quantity_t, s.grade, s.thickness_mm,"
        " s.width_mm, s.coating FROM contract_line l JOIN steel_spec s ON s.id = l.spec_id"
        " WHERE l.contract_id = ANY($1) ORDER BY l.contract_id, l.line_no", ids)
    line_ids = [r["id"] for r in lines]
    schedules = {r["line_id"]: r for r in await db.fetch(
        "SELECT line_id, current_stage, share_done, predicted_finish, is_late, late_days"
        " FROM contract_line_schedule WHERE line_id = ANY($1)", line_ids)}
    stages: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in await db.fetch(
            "SELECT line_id, stage, planned_end, actual_end, completed FROM"
            " production_stage_status WHERE line_id = ANY($1) ORDER BY line_id, seq", line_ids):
        stages[r["line_id"]].append({"stage": r["stage"].upper(), "plannedEnd": r["planned_end"],
                                     "actualEnd": r["actual_end"], "completed": r["completed"]})
    coils: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in await db.fetch(
            "SELECT * FROM (SELECT c.line_id, c.coil_no, c.weight_kg, q.cert_no, q.content_hash,"
            " q.yield_strength_mpa, row_number() OVER (PARTITION BY c.line_id ORDER BY c.id) rn"
            " FROM coil c LEFT JOIN quality_certificate q ON q.coil_id = c.id"
            " WHERE c.line_id = ANY($1)) t WHERE rn <= 10", line_ids):
        cert = None if r["cert_no"] is None else {
            "certNo": r["cert_no"], "contentHash": r["content_hash"],
            "yieldStrengthMpa": r["yield_strength_mpa"]}
        coils[r["line_id"]].append({"coilNo": r["coil_no"], "weightKg": r["weight_kg"],
                                    "certificate": cert})
    by_contract: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in lines:
        s = schedules.get(r["id"])
        progress = None if s is None else {
            "currentStage": s["current_stage"].upper() if s["current_stage"] else None,
            "shareDone": s["share_done"],
            "predictedFinish": s["predicted_finish"], "isLate": s["is_late"],
            "lateDays": s["late_days"], "stages": stages[r["id"]]}
        by_contract[r["contract_id"]].append({
            "lineNo": r["line_no"], "quantityT": r["quantity_t"],
            "spec": {"grade": r["grade"], "thicknessMm": r["thickness_mm"],
                     "widthMm": r["width_mm"], "coating": r["coating"]},
            "progress": progress, "coils": {"nodes": coils[r["id"]]}})
    body = {"data": {"contracts": {"nodes": [
        {"number": r["number"], "status": r["status"].upper(), "lines": by_contract[r["id"]]}
        for r in rows]}}}
    return Response(json.dumps(body, default=_default), media_type="application/json")


SHIPMENTS = """{ shipments(first: 20) { nodes { number status eta delayed
  legs { seq mode status plannedDeparture plannedArrival actualDeparture actualArrival eta
         delayed origin { code name } destination { code name } vehicle { code kind } }
  latestPosition { fixTime latitude longitude speedKmh } } } }"""

DISPUTE = """query($n: String!) { dispute(number: $n) { number status defectKind
  affectedTonnes openedAt
  timeline(first: 50) { nodes { action fromStatus toStatus actor note occurredAt } }
  suspects(first: 50) { nodes { sameParent whereNow since qualityStatus
                                coil { coilNo weightKg } contract { number } } } } }"""


async def _org(request: Request) -> Any:
    services = request.app.state.services
    claims = services.codec.verify(request.headers["authorization"].split(" ", 1)[1])
    return await services.db.fetchval("SELECT id FROM organization WHERE code = $1",
                                      claims.org_code)


async def shipments(request: Request) -> Response:
    db = request.app.state.services.db
    org = await _org(request)
    rows = await db.fetch(
        "SELECT s.id, s.number, s.status FROM shipment s WHERE EXISTS (SELECT 1 FROM"
        " shipment_customer sc WHERE sc.shipment_id = s.id AND sc.org_id = $1)"
        " ORDER BY s.id DESC LIMIT 20", org)
    ids = [r["id"] for r in rows]
    legs: dict[int, list[Any]] = defaultdict(list)
    for r in await db.fetch(
            "SELECT l.shipment_id, l.seq, l.mode, l.status, l.planned_departure,"
            " l.planned_arrival, l.actual_departure, l.actual_arrival, l.eta, l.delayed,"
            " o.code AS o_code, o.name AS o_name, d.code AS d_code, d.name AS d_name,"
            " v.code AS v_code, v.kind AS v_kind FROM shipment_leg l"
            " JOIN site o ON o.id = l.origin_site_id"
            " JOIN site d ON d.id = l.destination_site_id"
            " LEFT JOIN vehicle v ON v.id = l.vehicle_id"
            " WHERE l.shipment_id = ANY($1) ORDER BY l.shipment_id, l.seq", ids):
        legs[r["shipment_id"]].append(r)
    # The current leg's vehicle while it had the shipment aboard, as the API finds it.
    carrying = "('loading', 'departed', 'in_transit', 'arrived', 'exception')"
    fixes = {r["shipment_id"]: r for r in await db.fetch(
        f"SELECT w.shipment_id, p.fix_time, p.latitude, p.longitude,"
        f" p.speed_kmh::text::float8 AS speed_kmh FROM ("
        f" SELECT DISTINCT ON (l.shipment_id) l.shipment_id, l.vehicle_id,"
        f" coalesce(l.actual_departure, l.planned_departure) AS t0,"
        f" CASE WHEN l.status IN {carrying} THEN 'infinity'::timestamptz"
        f" ELSE coalesce(l.actual_arrival, l.planned_arrival) END AS t1"
        f" FROM shipment_leg l WHERE l.shipment_id = ANY($1) AND l.vehicle_id IS NOT NULL"
        f" AND (l.status IN {carrying} OR l.actual_departure IS NOT NULL)"
        f" ORDER BY l.shipment_id, l.status IN {carrying} DESC,"
        f" CASE WHEN l.status IN {carrying} THEN l.seq ELSE -l.seq END) w"
        f" CROSS JOIN LATERAL (SELECT * FROM position p WHERE p.vehicle_id = w.vehicle_id"
        f" AND p.fix_time BETWEEN w.t0 AND w.t1 ORDER BY p.fix_time DESC LIMIT 1) p", ids)}
    ended = ("unloaded", "received", "cancelled")
    nodes = []
    for r in rows:
        mine = legs[r["id"]]
        current = next((g for g in mine if g["status"] not in ended), None)
        fix = fixes.get(r["id"])
        nodes.append({
            "number": r["number"], "status": r["status"].upper(),
            "eta": current["eta"] if current else None,
            "delayed": any(g["delayed"] for g in mine),
            "legs": [{"seq": g["seq"], "mode": g["mode"].upper(), "status": g["status"].upper(),
                      "plannedDeparture": g["planned_departure"],
                      "plannedArrival": g["planned_arrival"],
                      "actualDeparture": g["actual_departure"],
                      "actualArrival": g["actual_arrival"], "eta": g["eta"],
                      "delayed": g["delayed"],
                      "origin": {"code": g["o_code"], "name": g["o_name"]},
                      "destination": {"code": g["d_code"], "name": g["d_name"]},
                      "vehicle": None if g["v_code"] is None else {
                          "code": g["v_code"], "kind": g["v_kind"].upper()}} for g in mine],
            "latestPosition": None if fix is None else {
                "fixTime": fix["fix_time"], "latitude": fix["latitude"],
                "longitude": fix["longitude"], "speedKmh": fix["speed_kmh"]},
        })
    body = {"data": {"shipments": {"nodes": nodes}}}
    return Response(json.dumps(body, default=_default), media_type="application/json")


async def dispute(request: Request) -> Response:
    db = request.app.state.services.db
    org = await _org(request)
    d = await db.fetchrow(
        "SELECT id, number, status, defect_kind, affected_t, opened_at FROM"
        " quality_dispute WHERE number = $2 AND ($1::bigint IS NULL OR customer_org_id = $1)",
        org, request.query_params["number"])
    if d is None:
        return Response(json.dumps({"data": {"dispute": None}}), media_type="application/json")
    steps = await db.fetch(
        "SELECT action, from_status, to_status, actor, note, occurred_at FROM dispute_step"
        " WHERE dispute_id = $1 ORDER BY id LIMIT 50", d["id"])
    # The containment statement the domain keeps (one statement, hand-written SQL).
    suspects = await containment.suspects(db, Visibility.customer(org), d["id"], limit=50,
                                          after_id=None)
    coils = {r["id"]: r for r in await db.fetch(
        "SELECT c.id, c.weight_kg, k.number FROM coil c LEFT JOIN contract_line l"
        " ON l.id = c.line_id LEFT JOIN contract k ON k.id = l.contract_id"
        " WHERE c.id = ANY($1)", [s.coil_id for s in suspects])}
    body = {"data": {"dispute": {
        "number": d["number"], "status": d["status"].upper(),
        "defectKind": d["defect_kind"].upper(), "affectedTonnes": d["affected_t"],
        "openedAt": d["opened_at"],
        "timeline": {"nodes": [{"action": s["action"], "fromStatus": s["from_status"],
                                "toStatus": s["to_status"], "actor": s["actor"],
                                "note": s["note"], "occurredAt": s["occurred_at"]}
                               for s in steps]},
        "suspects": {"nodes": [{
            "sameParent": s.same_parent, "whereNow": s.where_now.upper(), "since": s.since,
            "qualityStatus": s.quality_status.upper(),
            "coil": {"coilNo": s.coil_no, "weightKg": coils[s.coil_id]["weight_kg"]},
            "contract": None if s.contract_id is None else {
                "number": coils[s.coil_id]["number"]}} for s in suspects]}}}}
    return Response(json.dumps(body, default=_default), media_type="application/json")


class Counting:
    """Counts each route's requests and the statements they ran (bench only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: dict[str, int] = defaultdict(int)
        self.statements: dict[str, int] = defaultdict(int)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/baseline/stats":
            await self.app(scope, receive, send)
            return
        with count_statements() as seen:
            await self.app(scope, receive, send)
        self.requests[scope["path"]] += 1
        self.statements[scope["path"]] += len(seen)


def app_factory() -> ASGIApp:
    app = create_app(Settings.from_env())
    counting = Counting(app)
    app.router.routes.append(Route("/baseline/contracts", contracts))
    app.router.routes.append(Route("/baseline/shipments", shipments))
    app.router.routes.append(Route("/baseline/dispute", dispute))

    async def stats(request: Request) -> Response:
        return JSONResponse({"requests": counting.requests, "statements": counting.statements,
                             "cpu_s": time.process_time()})

    app.router.routes.append(Route("/baseline/stats", stats))
    return counting
