"""A partner's acknowledgements of the documents the platform sent it: a CONTRL (syntax)
or APERAK (application), matched to the documents it answers, among that partner's only.

A CONTRL names the interchange by its control reference (UCI, the UNB 0020 the platform
wrote) and, when it answers messages one by one, each message by its reference (UCM, the
UNH 0062); an APERAK names the message (RFF+ACW). One that accepts marks the document
``acknowledged``; one that rejects marks it ``dead``, with the partner's reasons, and
both parties are told (``exchange.document_failed``). An acknowledgement naming a
reference the platform never sent this partner changes nothing and is refused whole,
with every such reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.db import Executor
from domain.errors import Invalid
from domain.exchange import messages as m
from domain.exchange.documents import mark_acknowledged, mark_refused

__all__ = ["Unmatched", "apply"]


class Unmatched(Invalid):
    """Acknowledgements naming what the platform never sent the partner: every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), field="references")
        self.problems = problems


async def apply(tx: Executor, org_id: int, acks: Sequence[m.Acknowledgement]
                ) -> dict[str, Any]:
    """Marks the partner's documents each acknowledgement answers; :class:`Unmatched`
    (nothing marked) when one names a reference not among them."""
    problems: list[str] = []
    answered: list[tuple[m.Acknowledgement, list[Any]]] = []
    for ack in acks:
        found, missing = await _answered(tx, org_id, ack)
        problems += missing
        answered.append((ack, found))
    if problems:
        raise Unmatched(problems)
    done = []
    for ack, found in answered:
        receipt = {"message": ack.kind, "number": ack.number, "accepted": ack.accepted,
                   "interchange": ack.interchange_ref, "messages": list(ack.message_refs),
                   "documentNumber": ack.document_number, "reasons": list(ack.reasons)}
        for doc in found:
            status = (await mark_acknowledged(tx, doc["id"], receipt) if ack.accepted
                      else await mark_refused(tx, doc["id"], receipt, ack.reasons))
            done.append({"document": doc["id"], "name": doc["name"],
                         "documentType": doc["document_type"], "status": status,
                         "by": f"{ack.kind} {ack.number}", "accepted": ack.accepted})
    return {"acknowledged": done}


async def _answered(tx: Executor, org_id: int, ack: m.Acknowledgement
                    ) -> tuple[list[Any], list[str]]:
    """The partner's documents ``ack`` answers, and what it names that is not one."""
    if ack.interchange_ref is not None:
        rows = await tx.fetch(
            "SELECT id, name, document_type, message_ref FROM exchange_document"
            " WHERE org_id = $1 AND direction = 'out' AND interchange_ref = $2"
            " ORDER BY id", org_id, ack.interchange_ref)
        if not rows:
            return [], [f"{ack.kind} {ack.number} answers interchange "
                        f"{ack.interchange_ref!r}: the platform sent you no interchange "
                        "with that control reference"]
        known = {r["message_ref"] for r in rows}
        missing = [f"{ack.kind} {ack.number} answers message {ref!r} of interchange "
                   f"{ack.interchange_ref!r}: that interchange held no message with that "
                   "reference" for ref in ack.message_refs if ref not in known]
        return list(rows), missing
    rows = await tx.fetch(
        "SELECT id, name, document_type, message_ref FROM exchange_document"
        " WHERE org_id = $1 AND direction = 'out' AND message_ref = ANY($2::text[])"
        " ORDER BY id", org_id, list(ack.message_refs))
    known = {r["message_ref"] for r in rows}
    missing = [f"{ack.kind} {ack.number} answers message {ref!r}: the platform sent you no "
               "message with that reference" for ref in ack.message_refs if ref not in known]
    return list(rows), missing
