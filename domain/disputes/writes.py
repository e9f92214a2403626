"""Quality disputes, 8D-aligned: a customer names its delivered coils, the mill's quality
staff contain the problem, find its root cause, correct and prevent it, and the customer
accepts the correction.

States and who may move them (anything else is a typed error, never a crash)::

    established --process (quality)--> processing --claim (quality, customer)--> claiming
    claiming --correct (quality)--> correcting --complete (customer)--> completed
    processing --reject (quality)--> rejected
    established --withdraw (customer)--> withdrawn

`admin` may do whatever `quality` may. Every step, transitions and 8D records alike, is
kept in ``dispute_step`` with who, when, what and why; each also goes to the outbox as a
``dispute.*`` event for the customer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain import events
from domain.actor import CUSTOMER, Actor
from domain.checks import bounded, trimmed
from domain.db import Database, Executor
from domain.disputes.reads import (
    Dispute,
    Step,
    disputes_by_ids,
    disputes_by_numbers,
    list_disputes,
    timeline,
)
from domain.errors import Forbidden, Invalid, InvalidTransition, NotFound
from domain.tenancy import Scope

__all__ = [
    "Actor", "Dispute", "DisputeInput", "Step", "disputes_by_ids", "disputes_by_numbers",
    "list_disputes", "open_dispute", "record", "timeline", "transition",
]

QUALITY = frozenset({"quality", "admin"})

DEFECT_KINDS = ("surface", "dimension", "shape", "mechanical", "coating", "chemistry",
                "packaging", "other")
FOUND_DURING = ("incoming_inspection", "storage", "processing", "finished_product",
                "end_customer")
OPEN_STATES = frozenset({"established", "processing", "claiming", "correcting"})
MAX_TEXT = 8000
MAX_COILS = 100


@dataclass(frozen=True, slots=True)
class Transition:
    source: str
    target: str
    roles: frozenset[str]


TRANSITIONS: dict[str, Transition] = {
    "process": Transition("established", "processing", QUALITY),
    "withdraw": Transition("established", "withdrawn", CUSTOMER),
    "reject": Transition("processing", "rejected", QUALITY),
    "claim": Transition("processing", "claiming", QUALITY | CUSTOMER),
    "correct": Transition("claiming", "correcting", QUALITY),
    "complete": Transition("correcting", "completed", CUSTOMER),
}

# The 8D records quality staff keep on a dispute, and the states they may be kept in.
RECORDS: dict[str, frozenset[str]] = {
    "containment": OPEN_STATES,
    "root_cause": frozenset({"processing", "claiming", "correcting"}),
    "corrective_action": frozenset({"processing", "claiming", "correcting"}),
    "preventive_action": frozenset({"processing", "claiming", "correcting"}),
    "verification": frozenset({"correcting"}),
}


def clean_text(value: str | None, name: str, *, required: bool) -> str | None:
    """A dispute's, claim's or settlement's text: up to ``MAX_TEXT`` characters."""
    return trimmed(value, name, limit=MAX_TEXT, too_long=f"is limited to {MAX_TEXT} characters",
                   empty="must not be empty" if required else None)


@dataclass(frozen=True)
class DisputeInput:
    coil_ids: Sequence[int]
    defect_kind: str
    description: str
    affected_t: Decimal
    found_during: str
    found_site_id: int | None = None


def _check_input(data: DisputeInput) -> str:
    if not data.coil_ids:
        raise Invalid("name at least one coil", field="coilIds")
    if len(set(data.coil_ids)) > MAX_COILS:
        raise Invalid(f"at most {MAX_COILS} coils in one dispute", field="coilIds")
    if data.defect_kind not in DEFECT_KINDS:
        raise Invalid(f"defect kinds are {', '.join(DEFECT_KINDS)}", field="defectKind")
    if data.found_during not in FOUND_DURING:
        raise Invalid(f"found during one of {', '.join(FOUND_DURING)}", field="foundDuring")
    bounded(data.affected_t, "affectedTonnes", below=Decimal(10) ** 9)
    if data.affected_t <= 0 or data.affected_t != data.affected_t.quantize(Decimal("0.001")):
        raise Invalid("must be positive, to the kilogram at most", field="affectedTonnes")
    description = clean_text(data.description, "description", required=True)
    assert description is not None
    return description


# Stores a new dispute's first files in its transaction; returns what each file is.
Attach = Callable[[Executor, int], Awaitable[list[dict[str, Any]]]]


async def open_dispute(db: Database, actor: Actor, data: DisputeInput,
                       attach: Attach | None = None) -> Dispute:
    """The customer opens a dispute on coils delivered to it; any other coil is unknown.
    ``attach`` stores evidence files with it, in the same transaction."""
    if not actor.may(CUSTOMER):
        raise Forbidden("a dispute is opened by the customer that received the coils")
    description = _check_input(data)
    coil_ids = sorted(set(data.coil_ids))
    async with db.transaction() as tx:
        rows = await tx.fetch(
            "SELECT c.id, c.coil_no, c.weight_kg FROM coil c WHERE c.id = ANY($2::bigint[])"
            f" AND {Scope.delivered('c')}", actor.org_id, coil_ids)
        if len(rows) != len(coil_ids):
            missing = sorted(set(coil_ids) - {r["id"] for r in rows})
            raise NotFound(f"{len(missing)} of the coils are not coils delivered to you",
                           field="coilIds")
        weighed = sum((r["weight_kg"] for r in rows), Decimal(0)) / 1000
        if data.affected_t > weighed:
            raise Invalid(f"the coils named weigh {weighed.normalize():f} t: no more than "
                          "that can be affected", field="affectedTonnes")
        if data.found_site_id is not None and await tx.fetchval(
                f"SELECT 1 FROM site s WHERE s.id = $2 AND {Scope.site('s')}",
                actor.org_id, data.found_site_id) is None:
            raise NotFound("no such site", field="foundSiteId")
        pk = await tx.fetchval("SELECT nextval(pg_get_serial_sequence('quality_dispute', 'id'))")
        number = await tx.fetchval(
            "INSERT INTO quality_dispute (id, number, customer_org_id, defect_kind, description,"
            " affected_t, found_during, found_site_id, opened_by) OVERRIDING SYSTEM VALUE"
            " VALUES ($1::bigint, 'QD-' || to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY')"
            " || '-'"
            " || lpad($1::bigint::text, 6, '0'), $2, $3, $4, $5, $6, $7, $8) RETURNING number",
            pk, actor.org_id, data.defect_kind, description, data.affected_t,
            data.found_during, data.found_site_id, actor.subject)
        await tx.executemany("INSERT INTO dispute_coil (dispute_id, coil_id) VALUES ($1, $2)",
                             [(pk, c) for c in coil_ids])
        coils = [r["coil_no"] for r in sorted(rows, key=lambda r: r["coil_no"])]
        await add_step(tx, pk, actor, "opened", None, "established", description,
                       {"coils": coils, "defect_kind": data.defect_kind})
        files = await attach(tx, pk) if attach is not None else []
        await dispute_event(
            tx, {"id": pk, "number": number, "customer_org_id": actor.org_id}, actor, "opened",
            {"coils": coils, "defect_kind": data.defect_kind, "affected_t": data.affected_t,
             **({"files": files} if files else {})})
        return await _reload(tx, pk)


async def add_step(
    tx: Executor, dispute_id: int, actor: Actor, action: str, from_status: str | None,
    to_status: str | None, note: str | None, detail: dict[str, Any],
    claim_id: int | None = None,
) -> None:
    await tx.execute(
        "INSERT INTO dispute_step (dispute_id, claim_id, action, from_status, to_status, actor,"
        " actor_org_id, note, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        dispute_id, claim_id, action, from_status, to_status, actor.subject, actor.org_id,
        note, detail)


async def _reload(tx: Executor, pk: int) -> Dispute:
    return (await disputes_by_ids(tx, Scope.everything(), [pk]))[0]


async def lock(tx: Executor, actor: Actor, dispute_id: int) -> Any:
    """The dispute, locked for a change, if the actor's organization is a party to it."""
    row = await tx.fetchrow(
        "SELECT d.id, d.number, d.status, d.customer_org_id, d.root_cause, d.verification"
        f" FROM quality_dispute d WHERE d.id = $2 AND {Scope.owned('d.customer_org_id')}"
        " FOR UPDATE", actor.scope.org_id, dispute_id)
    if row is None:
        raise NotFound("no such dispute", field="disputeId")
    return row


async def move(tx: Executor, actor: Actor, row: Any, action: str, note: str | None) -> str:
    """Apply a transition to a locked dispute row; returns the new state. Appends no
    event, so that a caller may do more in the same transaction first."""
    step = TRANSITIONS[action]
    if not actor.may(step.roles):
        raise Forbidden(f"to {action} a dispute needs the role "
                        f"{' or '.join(sorted(step.roles))}")
    if row["status"] != step.source:
        raise InvalidTransition(
            f"a dispute that is {row['status']} cannot {action}; only one that is "
            f"{step.source} can", field="action")
    await _precondition(tx, row, action, note)
    await tx.execute(
        "UPDATE quality_dispute SET status = $2, updated_at = now(), closed_at = CASE WHEN"
        " $2 IN ('completed', 'rejected', 'withdrawn') THEN now() END WHERE id = $1",
        row["id"], step.target)
    await add_step(tx, row["id"], actor, action, step.source, step.target, note, {})
    return step.target


async def _precondition(tx: Executor, row: Any, action: str, note: str | None) -> None:
    if action == "reject" and note is None:
        raise Invalid("say why the dispute is rejected", field="note")
    if action == "correct":
        if row["root_cause"] is None:
            raise InvalidTransition("record the root cause before correcting", field="action")
        open_claims = await tx.fetch(
            "SELECT number FROM quality_claim WHERE dispute_id = $1"
            " AND status IN ('submitted', 'assessed') ORDER BY id", row["id"])
        if open_claims:
            names = ", ".join(r["number"] for r in open_claims)
            raise InvalidTransition(f"claims still undecided: {names}", field="action")
    if action == "complete" and row["verification"] is None:
        raise InvalidTransition("the correction has not been verified yet", field="action")


async def transition(
    db: Database, actor: Actor, dispute_id: int, action: str, note: str | None
) -> Dispute:
    if action not in TRANSITIONS:
        raise Invalid(f"actions are {', '.join(TRANSITIONS)}", field="action")
    note = clean_text(note, "note", required=False)
    async with db.transaction() as tx:
        row = await lock(tx, actor, dispute_id)
        target = await move(tx, actor, row, action, note)
        await dispute_event(tx, row, actor, target, {"from": row["status"], "note": note})
        return await _reload(tx, dispute_id)


async def facets(tx: Executor, dispute_id: int) -> dict[str, list[str]]:
    """The contracts and grades of a dispute's coils, for its events' payloads: push rules
    that filter by contract or grade match on them."""
    row = await tx.fetchrow(
        "SELECT array_remove(array_agg(DISTINCT k.number), NULL) AS contract,"
        " array_agg(DISTINCT coalesce(s.grade, h.grade)) AS grade FROM dispute_coil dc"
        " JOIN coil c ON c.id = dc.coil_id JOIN heat h ON h.id = c.heat_id"
        " LEFT JOIN steel_spec s ON s.id = c.spec_id"
        " LEFT JOIN contract_line l ON l.id = c.line_id"
        " LEFT JOIN contract k ON k.id = l.contract_id WHERE dc.dispute_id = $1", dispute_id)
    assert row is not None
    return {"contract": sorted(row["contract"] or []), "grade": sorted(row["grade"] or [])}


async def dispute_event(tx: Executor, row: Any, actor: Actor, happening: str,
                        payload: dict[str, Any]) -> None:
    about = await facets(tx, row["id"])
    await events.append(
        tx, f"dispute.{happening}", org_id=row["customer_org_id"],
        aggregate_type="quality_dispute", aggregate_id=row["id"], actor=actor.subject,
        payload={"dispute": row["number"], **about, **payload})


async def record(
    db: Database, actor: Actor, dispute_id: int, kind: str, text: str,
    block_coil_ids: Sequence[int] = (),
) -> Dispute:
    """Quality staff keep an 8D record. A containment may block suspect coils (of the heats
    of the disputed coils) so that they go no further."""
    if kind not in RECORDS:
        raise Invalid(f"records are {', '.join(RECORDS)}", field="kind")
    body = clean_text(text, "text", required=True)
    if block_coil_ids and kind != "containment":
        raise Invalid("only a containment blocks coils", field="blockCoilIds")
    async with db.transaction() as tx:
        row = await lock(tx, actor, dispute_id)
        if not actor.may(QUALITY):
            raise Forbidden("8D records are kept by the role quality or admin")
        if row["status"] not in RECORDS[kind]:
            raise InvalidTransition(
                f"a {kind} cannot be recorded while the dispute is {row['status']}",
                field="kind")
        blocked = await _block(tx, dispute_id, row["customer_org_id"], block_coil_ids)
        await tx.execute(f"UPDATE quality_dispute SET {kind} = $2, updated_at = now()"
                         " WHERE id = $1", dispute_id, body)
        detail = blocked if block_coil_ids else {}
        await add_step(tx, dispute_id, actor, kind, None, None, body, detail)
        await dispute_event(tx, row, actor, f"{kind}_recorded", {"text": body, **detail})
        return await _reload(tx, dispute_id)


async def _block(tx: Executor, dispute_id: int, customer_org_id: int,
                 coil_ids: Sequence[int]) -> dict[str, Any]:
    """Block suspect coils. The step and the event go to the dispute's customer, so they
    name only its own coils and count only the mill's unallocated ones: another customer's
    blocked coils are neither named nor counted."""
    if not coil_ids:
        return {}
    rows = await tx.fetch(
        "UPDATE coil c SET quality_status = 'blocked' WHERE c.id = ANY($2::bigint[])"
        " AND c.heat_id IN (SELECT n.heat_id FROM dispute_coil dc JOIN coil n"
        " ON n.id = dc.coil_id WHERE dc.dispute_id = $1) RETURNING c.coil_no,"
        " c.customer_org_id", dispute_id, list(set(coil_ids)))
    if len(rows) != len(set(coil_ids)):
        raise Invalid("only coils of the heats of this dispute can be blocked",
                      field="blockCoilIds")
    own = sorted(r["coil_no"] for r in rows if r["customer_org_id"] == customer_org_id)
    return {"blocked": own,
            "blocked_at_mill": sum(1 for r in rows if r["customer_org_id"] is None)}
