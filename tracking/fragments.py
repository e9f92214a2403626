"""Multi-sentence AIS messages whose sentences came in separate MQTT messages.

A gateway that publishes each NMEA sentence as a message of its own splits a type 5
(static and voyage data) message in two, and the shared subscription may hand the two
halves to two ingesters. So a sentence whose group is not whole in its own message
(``AisFragment``) is kept in ``ais_fragment``, in the batch's transaction, and every
ingester completes groups from there:

- a transaction-scoped advisory lock per group (device, channel, sequence id), taken
  before anything else in the batch, so that two halves stored at the same moment by
  two ingesters are not each stored alone; taken in lock id order, so that two batches
  never wait on each other in a circle;
- a group is whole when it has every sentence number of its count; its rows are then
  marked assembled and kept for ``KEEP_ASSEMBLED``;
- a sentence delivered again while its group waits is a duplicate. One delivered again
  after its group was assembled cannot be told apart on arrival from the same text in
  a new message (type 5's second half is mostly padding, and repeats), so it waits like
  any other; if nothing completes it, the assembled copy shows it was a repeat and it
  is dropped rather than rejected;
- sequence ids cycle through 0-9: a sentence number that a pending group already has
  with other text, or another count, starts a new group, and the unfinished one is
  recorded as rejected (``incomplete``);
- a group still incomplete after ``ASSEMBLY_TTL`` is recorded as rejected by
  ``expire``, which the ingester runs every ``ASSEMBLY_TTL``: nothing received
  disappears.

The sentences of one group are sent back to back, so the time allowed is short: sequence
ids come round again soon on a busy gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from domain.db import Database, Executor, Record
from tracking.model import AisFragment, Message, Reason
from tracking.store import RejectedRow, insert_rejections

ASSEMBLY_TTL: Final = timedelta(seconds=60)
# Sentences of assembled messages are kept this long, so that one delivered again (an
# ingester that stopped between commit and acknowledgement; its session lasts a day by
# default) is known as a repeat rather than rejected as incomplete. A few bytes each.
KEEP_ASSEMBLED: Final = timedelta(days=1)
# The first key of the two-key advisory locks taken here (a key space of its own).
LOCK_CLASS: Final = 0x41495346  # "AISF"

_GroupKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Held:
    """A fragment, the message that carried it, and that message's place in its batch."""

    fragment: AisFragment
    message: Message
    index: int

    @property
    def key(self) -> _GroupKey:
        f = self.fragment
        return f.device, f.channel, f.seq_id


@dataclass(slots=True)
class _Part:
    """A sentence of a group, stored before (``row_id``) or arriving in this batch
    (``held``), with the message that carried it."""

    number: int
    count: int
    sentence: str
    device: str
    topic: str
    payload: bytes
    received_at: datetime
    row_id: int | None = None
    held: Held | None = None

    def near(self, at: datetime) -> bool:
        return abs(at - self.received_at) <= ASSEMBLY_TTL


@dataclass(slots=True)
class Assembly:
    completed: list[tuple[int, list[str]]] = field(default_factory=list)  # index, sentences
    waiting: set[int] = field(default_factory=set)  # messages with a sentence kept to wait
    rejected: list[RejectedRow] = field(default_factory=list)  # abandoned groups


async def assemble(tx: Executor, held: list[Held]) -> Assembly:
    """Store the fragments of a batch and complete what groups they can, in its
    transaction. The caller decodes each completed group for the message at ``index``
    (the one whose sentence completed it) and records ``rejected``."""
    keys = sorted({h.key for h in held})
    # In the order of the lock ids themselves, so that two batches take them in one order.
    await tx.execute(
        "SELECT pg_advisory_xact_lock($1::int, h) FROM (SELECT DISTINCT hashtext(k) AS h"
        " FROM unnest($2::text[]) AS k ORDER BY h) AS ids",
        LOCK_CLASS, [f"{d}/{c}/{s}" for d, c, s in keys])
    # Locked, so that the sweep (SKIP LOCKED) leaves what this batch works on alone.
    rows = await tx.fetch(
        "SELECT id, device_code, channel, seq_id, frag_count, frag_num, sentence,"
        " received_at, assembled, topic, payload FROM ais_fragment"
        " WHERE (device_code, channel, seq_id) IN"
        "  (SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[])) ORDER BY id"
        " FOR UPDATE",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
    pending: dict[_GroupKey, list[_Part]] = {k: [] for k in keys}
    assembled_before: set[tuple[_GroupKey, int, str]] = set()
    for r in rows:
        key = (r["device_code"], r["channel"], r["seq_id"])
        if r["assembled"]:
            assembled_before.add((key, r["frag_num"], r["sentence"]))
        else:
            pending[key].append(_part(r))
    out = Assembly()
    assembled: list[_Part] = []
    abandoned: list[tuple[_GroupKey, _Part]] = []
    for h in held:
        f, at = h.fragment, h.message.received_at
        # Times are each sentence's own arrival, not the clock: a batch retried while
        # the database was away still completes its groups.
        group = pending[h.key]
        if group and not group[-1].near(at):  # left unfinished long before
            abandoned += [(h.key, p) for p in group]
            group = pending[h.key] = []
        if any((p.number, p.sentence) == (f.number, f.sentence) for p in group):
            continue  # a waiting sentence delivered again
        if group and (group[0].count != f.count or any(p.number == f.number for p in group)):
            abandoned += [(h.key, p) for p in group]
            group = pending[h.key] = []
        m = h.message
        group.append(_Part(f.number, f.count, f.sentence, f.device, m.topic, m.payload, at,
                           held=h))
        if len(group) == f.count:
            out.completed.append((h.index, [p.sentence for p in sorted(group,
                                                                       key=lambda p: p.number)]))
            assembled_before |= {(h.key, p.number, p.sentence) for p in group}
            assembled += group
            pending[h.key] = []
        else:
            out.waiting.add(h.index)
    stored = [p for group in pending.values() for p in group if p.row_id is None]
    new_assembled = [p for p in assembled if p.row_id is None]
    await _insert(tx, [(p, False) for p in stored] + [(p, True) for p in new_assembled])
    old = [p.row_id for p in assembled if p.row_id is not None]
    if old:
        await tx.execute("UPDATE ais_fragment SET assembled = true WHERE id = ANY($1)", old)
    gone = [p.row_id for _, p in abandoned if p.row_id is not None]
    if gone:
        await tx.execute("DELETE FROM ais_fragment WHERE id = ANY($1)", gone)
    # A sentence like one already assembled was a redelivery (a sentence is not
    # judged a duplicate on arrival: type 5's second half repeats its padding from
    # message to message, so the same text may well belong to a new message).
    out.rejected = [_rejection(p, "a sentence of the next message with the same sequence"
                               " id came first")
                    for key, p in abandoned if (key, p.number, p.sentence) not in assembled_before]
    return out


async def expire(db: Database, now: datetime) -> int:
    """Remove sentences that waited ``ASSEMBLY_TTL`` for the rest of their message, and
    assembled ones after ``KEEP_ASSEMBLED``; those of messages that stayed incomplete
    are recorded as rejected, unless an assembled sentence like it shows they were
    redelivered. Returns how many messages were rejected. Rows a batch is working on
    (locked) are left for the next round."""
    async with db.transaction() as tx:
        rows = await tx.fetch(
            "DELETE FROM ais_fragment f WHERE id IN (SELECT id FROM ais_fragment"
            " WHERE received_at <= CASE WHEN assembled THEN $2::timestamptz ELSE $1 END"
            " FOR UPDATE SKIP LOCKED)"
            " RETURNING f.id, f.device_code, f.channel, f.seq_id, f.frag_count, f.frag_num,"
            " f.sentence, f.received_at, f.assembled, f.topic, f.payload,"
            " EXISTS (SELECT 1 FROM ais_fragment a WHERE a.assembled"
            "  AND (a.device_code, a.channel, a.seq_id, a.frag_num, a.sentence)"
            "  = (f.device_code, f.channel, f.seq_id, f.frag_num, f.sentence)) AS repeated",
            now - ASSEMBLY_TTL, now - KEEP_ASSEMBLED)
        rejected = [_rejection(_part(r), f"the rest did not arrive within"
                                         f" {ASSEMBLY_TTL.seconds} s")
                    for r in rows if not r["assembled"] and not r["repeated"]]
        await insert_rejections(tx, rejected)
    return messages(rejected)


def messages(rejected: list[RejectedRow]) -> int:
    """How many messages the rejections are of (a message may hold several sentences)."""
    return len({r.digest for r in rejected})


def _part(r: Record) -> _Part:
    return _Part(r["frag_num"], r["frag_count"], r["sentence"], r["device_code"], r["topic"],
                 bytes(r["payload"]), r["received_at"], row_id=r["id"])


async def _insert(tx: Executor, parts: list[tuple[_Part, bool]]) -> None:
    if not parts:
        return
    held = [(p.held, assembled) for p, assembled in parts if p.held is not None]
    await tx.execute(
        "INSERT INTO ais_fragment (device_code, channel, seq_id, frag_count, frag_num,"
        " sentence, received_at, assembled, topic, payload)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::smallint[],"
        " $5::smallint[], $6::text[], $7::timestamptz[], $8::bool[], $9::text[], $10::bytea[])",
        [h.fragment.device for h, _ in held], [h.fragment.channel for h, _ in held],
        [h.fragment.seq_id for h, _ in held], [h.fragment.count for h, _ in held],
        [h.fragment.number for h, _ in held], [h.fragment.sentence for h, _ in held],
        [h.message.received_at for h, _ in held], [a for _, a in held],
        [h.message.topic for h, _ in held], [h.message.payload for h, _ in held])


def _rejection(part: _Part, why: str) -> RejectedRow:
    return RejectedRow(part.topic, part.payload, part.received_at, Reason.INCOMPLETE.value,
                       f"AIS sentence {part.number} of {part.count}, its message incomplete:"
                       f" {why}", part.device)
