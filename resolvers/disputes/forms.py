"""The read planner's forms of quality disputes, their timeline and suspect coils (see
resolvers/forms.py)."""

from __future__ import annotations

from typing import Any

from domain.disputes import containment
from domain.tenancy import Where
from resolvers.disputes.types import Claim, DisputeStep, QualityDispute, SuspectCoil
from resolvers.forms import Column, Found, Join, Pages, Planned, RootOne, Rows, columns
from resolvers.relay import exactly_one, expect_id

PLANNED = {
    QualityDispute: Planned("quality_dispute", {
        **columns("number", "status", "defect_kind", "description", "found_during",
                  "opened_by", "opened_at", "updated_at", "closed_at", "containment",
                  "root_cause", "corrective_action", "preventive_action", "verification"),
        "affected_tonnes": Column("affected_t"),
        "customer": Join("{c}.id = {t}.customer_org_id"),
        "found_site": Join("{c}.id = {t}.found_site_id"),
        "coils": Rows("EXISTS (SELECT 1 FROM dispute_coil dc WHERE dc.dispute_id = {t}.id"
                      " AND dc.coil_id = {c}.id)", "{c}.id"),
        "timeline": Pages("{c}.dispute_id = {t}.id"),
        "suspects": Found(containment.suspects_of, "coil_id"),
        "claims": Pages("{c}.dispute_id = {t}.id"),
    }),
    Claim: Planned("quality_claim", {
        **columns("number", "status", "basis", "currency", "amount", "agreed_amount",
                  "credit_note", "submitted_by", "submitted_at", "updated_at"),
        "dispute": Join("{c}.id = {t}.dispute_id"),
        "contract": Join("{c}.id = {t}.contract_id"),
        "settlement": Join("{c}.id = {t}.settlement_id"),
    }),
    DisputeStep: Planned("dispute_step", {
        **columns("action", "from_status", "to_status", "actor", "note", "occurred_at"),
        "actor_organization": Join("{c}.id = {t}.actor_org_id"),
        "claim": Join("{c}.id = {t}.claim_id"),
    }),
    SuspectCoil: Planned(None, {
        **columns("same_parent", "where_now", "since", "quality_status"),
        "coil": Join("{c}.id = {t}.coil_id"),
        "site": Join("{c}.id = {t}.site_id"),
        "vehicle": Join("{c}.id = {t}.vehicle_id"),
        "contract": Join("{c}.id = {t}.contract_id"),
        "line": Join("{c}.id = {t}.line_id"),
    }),
}


def dispute_one(where: Where, args: dict[str, Any]) -> RootOne:
    gid, number = args.get("id"), args.get("number")
    exactly_one(gid, number, "number")
    if gid is not None:
        pk = expect_id(gid, "QualityDispute")
        return RootOne("quality_dispute", f"{{c}}.id = {where.arg(pk)}::bigint")
    return RootOne("quality_dispute", f"{{c}}.number = {where.arg(number)}::text")


ROOTS = {"dispute": dispute_one}
