"""Progress reported with values that cannot stand (a time without its zone, tonnes that
are not a number, infinite or absurdly large) comes back as a typed error naming the
field, and records nothing: never an internal error."""

from __future__ import annotations

from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import build

RECORD = """mutation($input: RecordProgressInput!) { recordProgress(input: $input) {
    errors { field code } } }"""


async def test_bad_values_are_typed_errors_not_internal_ones(api: Api) -> None:
    w = await build(api.db)
    mill = token("BAOSTEEL", "production")
    line = to_global_id("ContractLine", w.line["FAW-VW"])
    for bad, field in ((
            {"occurredAt": "2026-01-01T08:00:00"}, "occurredAt"),
            ({"tonnes": "NaN"}, "tonnes"), ({"tonnes": "Infinity"}, "tonnes"),
            ({"tonnes": "1e20"}, "tonnes")):
        data = await api.data(RECORD, {"input": {"lineId": line, "stage": "CASTING",
                                                 "tonnes": "1", **bad}}, as_=mill)
        assert data["recordProgress"]["errors"] == [{"field": field, "code": "INVALID"}], bad
    assert await api.db.fetchval("SELECT count(*) FROM progress_event") == 2
