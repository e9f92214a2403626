"""AIS messages whose sentences come in separate MQTT messages, on any ingester: kept in
the database until whole, each assembled once, and never silently lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.db import Database
from tests.tracking.test_decoders import nmea, with_seq
from tests.tracking.test_reanchor import _pipeline
from tests.tracking.test_store import fleet
from tracking import fragments
from tracking.decoders import ais
from tracking.model import AisFragment, Message, Reason
from tracking.pipeline import Outcome

PAYLOADS = Path(__file__).parent / "payloads"
EVER = PAYLOADS.joinpath("ais-type5-ever-diadem.nmea").read_bytes().splitlines()
GOLDEN = PAYLOADS.joinpath("ais-type5-golden-gate.nmea").read_bytes().splitlines()
EVER_MMSI, GOLDEN_MMSI = 351759000, 368060190
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # any time will do
TOPIC = "keylink/v1/devices/AIS-1/ais"


def message(line: bytes, seconds: float = 0) -> Message:
    return Message(TOPIC, line, 0, T0 + timedelta(seconds=seconds))


async def _ships(db: Database) -> None:
    await fleet(db)
    await db.execute("INSERT INTO vehicle (code, kind, name, mmsi) VALUES"
                     " ('EVER', 'ship', 'unnamed', $1), ('GOLDEN', 'ship', 'unnamed', $2)",
                     EVER_MMSI, GOLDEN_MMSI)


async def _names(db: Database) -> dict[int, tuple[str, str | None]]:
    rows = await db.fetch("SELECT mmsi, name, reported_destination FROM vehicle"
                          " WHERE mmsi = ANY($1)", [EVER_MMSI, GOLDEN_MMSI])
    return {r["mmsi"]: (r["name"], r["reported_destination"]) for r in rows}


async def _rejected(db: Database) -> list[tuple[str, bytes]]:
    rows = await db.fetch("SELECT reason, payload FROM rejected_message ORDER BY id")
    return [(r["reason"], bytes(r["payload"])) for r in rows]


async def test_a_message_split_over_two_batches_is_assembled(db: Database) -> None:
    await _ships(db)
    pipeline = await _pipeline(db)
    first = await pipeline.process([message(EVER[0])])
    assert first.outcomes == [(Outcome.HELD, "")]
    assert await _names(db) == {EVER_MMSI: ("unnamed", None), GOLDEN_MMSI: ("unnamed", None)}
    second = await pipeline.process([message(EVER[1], 1)])
    assert second.outcomes == [(Outcome.STORED, "")]
    assert (await _names(db))[EVER_MMSI] == ("EVER DIADEM", "NEW YORK")
    assert await db.fetchval("SELECT count(*) FROM ais_fragment WHERE assembled") == 2
    assert await _rejected(db) == []


async def test_halves_on_two_ingesters_at_once_are_assembled_once(db: Database) -> None:
    await _ships(db)
    one, other = await _pipeline(db), await _pipeline(db)

    def ever(n: int, seq: int) -> Message:
        return message(with_seq(EVER[n], seq), seq)

    def golden(n: int, seq: int) -> Message:  # heard on the other radio channel
        return message(with_seq(GOLDEN[n], seq, "B"), seq)

    for seq in range(10):
        # Each ingester stores one half of each of two messages, at the same moment.
        a, b = await asyncio.gather(one.process([ever(0, seq), golden(1, seq)]),
                                    other.process([golden(0, seq), ever(1, seq)]))
        outcomes = sorted(o for o, _ in a.outcomes + b.outcomes)
        assert outcomes == sorted([Outcome.HELD, Outcome.HELD, Outcome.STORED,
                                   Outcome.STORED]), seq
    assert await db.fetchval("SELECT count(*) FROM ais_fragment WHERE NOT assembled") == 0
    assert await db.fetchval("SELECT count(*) FROM ais_fragment WHERE assembled") == 40
    names = await _names(db)
    assert names[EVER_MMSI] == ("EVER DIADEM", "NEW YORK")
    assert names[GOLDEN_MMSI][0] == "P/V_GOLDEN_GATE"
    assert await _rejected(db) == []


def _held(line: bytes) -> fragments.Held:
    m = message(line)
    (fragment,) = ais.decode("AIS-1", line, m.received_at)
    assert isinstance(fragment, AisFragment)
    return fragments.Held(fragment, m, 0)


async def test_the_second_half_waits_for_the_first_to_commit(db: Database) -> None:
    async def other_half() -> fragments.Assembly:
        async with db.transaction() as tx:
            return await fragments.assemble(tx, [_held(EVER[1])])

    async with db.transaction() as tx:
        await fragments.assemble(tx, [_held(EVER[0])])
        second = asyncio.create_task(other_half())
        await asyncio.sleep(0.5)
        # Without the group's lock it would have found nothing and kept its half alone.
        assert not second.done()
    done = await asyncio.wait_for(second, 10)
    assert done.completed == [(0, [EVER[0].decode(), EVER[1].decode()])]


async def test_sentences_delivered_again_are_never_rejected(db: Database) -> None:
    await _ships(db)
    pipeline = await _pipeline(db)
    await pipeline.process([message(GOLDEN[0])])
    # Delivered again while it waits: a duplicate.
    again = await pipeline.process([message(GOLDEN[0], 1)])
    assert again.outcomes == [(Outcome.DUPLICATE, "")]
    await pipeline.process([message(GOLDEN[1], 2)])
    # Delivered again after its message was assembled, the second half alone: it waits
    # like the start of a new message, and the sweep drops it as the repeat it was.
    late = await pipeline.process([message(GOLDEN[1], 20)])
    assert late.outcomes == [(Outcome.HELD, "")]
    assert await fragments.expire(db, T0 + fragments.ASSEMBLY_TTL + timedelta(seconds=21)) == 0
    assert await db.fetchval("SELECT count(*) FROM ais_fragment WHERE NOT assembled") == 0
    # Both halves again: assembled again, which changes nothing.
    twice = await pipeline.process([message(GOLDEN[0], 30), message(GOLDEN[1], 31)])
    assert twice.outcomes == [(Outcome.HELD, ""), (Outcome.STORED, "")]
    assert (await _names(db))[GOLDEN_MMSI][0] == "P/V_GOLDEN_GATE"
    assert await _rejected(db) == []
    # Assembled sentences are kept a day, then swept without a trace.
    assert await fragments.expire(db, T0 + fragments.KEEP_ASSEMBLED + timedelta(minutes=1)) == 0
    assert await db.fetchval("SELECT count(*) FROM ais_fragment") == 0


async def test_a_second_half_like_an_earlier_one_completes_its_own_message(
    db: Database,
) -> None:
    """The second sentence of type 5 is mostly padding: the next message under the same
    sequence id often ends in the very same text, and that is no redelivery."""
    await _ships(db)
    pipeline = await _pipeline(db)
    await pipeline.process([message(EVER[0]), message(EVER[1], 1)])
    fields = EVER[0].decode().removeprefix("!").split("*")[0].split(",")
    fields[5] = fields[5].replace("2222222216", "2222222226")  # another ETA, say
    renewed = nmea(",".join(fields))
    assert (await pipeline.process([message(renewed, 10)])).outcomes == [(Outcome.HELD, "")]
    done = await pipeline.process([message(EVER[1], 11)])
    assert done.outcomes == [(Outcome.STORED, "")]
    assert await db.fetchval("SELECT count(*) FROM ais_fragment WHERE NOT assembled") == 0
    assert await _rejected(db) == []


async def test_whole_groups_in_one_message_never_touch_the_table(db: Database) -> None:
    await _ships(db)
    pipeline = await _pipeline(db)
    result = await pipeline.process([message(EVER[1] + b"\r\n" + EVER[0])])
    assert result.outcomes == [(Outcome.STORED, "")]
    assert await db.fetchval("SELECT count(*) FROM ais_fragment") == 0


async def test_an_unfinished_message_is_rejected_not_lost(db: Database) -> None:
    await _ships(db)
    pipeline = await _pipeline(db)
    stray = with_seq(GOLDEN[0], 1)  # the same channel and sequence id as EVER's
    await pipeline.process([message(stray)])
    # A first sentence again under that id: another message has begun, and the one
    # before will never be whole.
    result = await pipeline.process([message(EVER[0], 1)])
    assert result.outcomes == [(Outcome.HELD, "")]
    assert await _rejected(db) == [(Reason.INCOMPLETE.value, stray)]
    # Nothing more comes for EVER's first half: swept once its time is up.
    assert await fragments.expire(db, T0 + fragments.ASSEMBLY_TTL) == 0
    assert await fragments.expire(db, T0 + fragments.ASSEMBLY_TTL + timedelta(seconds=2)) == 1
    assert await _rejected(db) == [(Reason.INCOMPLETE.value, stray),
                                   (Reason.INCOMPLETE.value, EVER[0])]
    assert await db.fetchval("SELECT count(*) FROM ais_fragment") == 0
    detail = await db.fetchval("SELECT detail FROM rejected_message ORDER BY id DESC LIMIT 1")
    assert "sentence 1 of 2" in detail and "60 s" in detail
