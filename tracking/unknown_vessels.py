"""Vessels the registry lacks, as AIS gateways hear them: counted, not stored one by one.

A gateway on a quay or a river bank reports every ship in radio range, and most of
them carry nobody's coils. Storing each of their messages in ``rejected_message`` would
make that table mostly passing traffic. Instead each MMSI gets one row in
``ais_unknown_vessel`` (first and last heard, how many readings, the gateway that heard
it last), and a message from it is kept as a rejected message (reason
``unknown_vessel``) at most once per ``SAMPLE_EVERY``: enough to see what such a ship
sends, and to register it if it is one of ours. Every message is still counted in
``keylink_ingest_messages_total{outcome="rejected", reason="unknown_vessel"}``. Rows of
vessels not heard for ``FORGET_AFTER`` are deleted as the ingester goes, so the table
holds at most the ships heard within that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.db import Executor

SAMPLE_EVERY = timedelta(hours=1)
FORGET_AFTER = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Sighting:
    """One reading from a vessel the registry lacks."""

    mmsi: int
    gateway: str | None
    heard_at: datetime


async def tally(tx: Executor, sightings: Sequence[Sighting]) -> set[int]:
    """Count the sightings (in the caller's transaction); returns the MMSIs of which a
    message is to be kept now, their last sample being ``SAMPLE_EVERY`` old or none.
    One statement for the batch; concurrent batches serialize on each MMSI's row."""
    if not sightings:
        return set()
    per: dict[int, tuple[datetime, datetime, int, str | None]] = {}
    for s in sightings:
        first, last, n, gateway = per.get(s.mmsi, (s.heard_at, s.heard_at, 0, s.gateway))
        if s.heard_at >= last:
            last, gateway = s.heard_at, s.gateway
        per[s.mmsi] = (min(first, s.heard_at), last, n + 1, gateway)
    mmsis = sorted(per)  # one lock order for every batch
    rows = await tx.fetch(
        "WITH counted AS (INSERT INTO ais_unknown_vessel AS v (mmsi, first_seen, last_seen,"
        "  messages, gateway, sampled_at)"
        " SELECT * , b.last_seen FROM unnest($1::bigint[], $2::timestamptz[],"
        "  $3::timestamptz[], $4::bigint[], $5::text[])"
        "  AS b(mmsi, first_seen, last_seen, messages, gateway)"
        " ON CONFLICT (mmsi) DO UPDATE SET"
        "  first_seen = least(v.first_seen, EXCLUDED.first_seen),"
        "  last_seen = greatest(v.last_seen, EXCLUDED.last_seen),"
        "  messages = v.messages + EXCLUDED.messages,"
        "  gateway = CASE WHEN EXCLUDED.last_seen >= v.last_seen THEN EXCLUDED.gateway"
        "   ELSE v.gateway END,"
        "  sampled_at = CASE WHEN EXCLUDED.last_seen >= v.sampled_at + $6::interval"
        "   THEN EXCLUDED.last_seen ELSE v.sampled_at END"
        " RETURNING v.mmsi, v.sampled_at, (xmax = 0) AS inserted)"
        " SELECT c.mmsi FROM counted c JOIN unnest($1::bigint[], $3::timestamptz[])"
        "  AS b(mmsi, last_seen) ON b.mmsi = c.mmsi"
        " WHERE c.inserted OR c.sampled_at = b.last_seen",
        mmsis, [per[m][0] for m in mmsis], [per[m][1] for m in mmsis],
        [per[m][2] for m in mmsis], [per[m][3] for m in mmsis], SAMPLE_EVERY)
    # Forget the vessels not heard for long; a row another batch holds (a ship heard
    # again just now) is left alone rather than waited for.
    newest = max(s.heard_at for s in sightings)
    await tx.execute(
        "DELETE FROM ais_unknown_vessel WHERE mmsi IN (SELECT mmsi FROM ais_unknown_vessel"
        " WHERE last_seen < $1 FOR UPDATE SKIP LOCKED)", newest - FORGET_AFTER)
    return {r["mmsi"] for r in rows}
