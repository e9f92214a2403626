"""The baseline the GraphQL benchmark is measured against: a plain Starlette endpoint that
fetches the same data as the benchmark query with hand-written asyncpg statements and
returns JSON. Served from the same process as the API, so both share the machine alike."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
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


def app_factory() -> Starlette:
    app = create_app(Settings.from_env())
    app.router.routes.append(Route("/baseline/contracts", contracts))
    return app
