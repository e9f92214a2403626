"""A NUL character in any string argument, written in the document or passed in a
variable, is refused as BAD_USER_INPUT naming the argument, before any resolver runs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import MILL_ROLES, Api, token
from tests.support.factory import build

PUBLISH = """mutation($in: PublishBulletinInput!) { publishBulletin(input: $in) {
  bulletin { id } errors { code } } }"""
BULLETIN = {"title": "Laser welding of DC06", "body": "New parameters.", "grades": ["DC06"]}

CASES: dict[str, tuple[str, dict[str, Any] | None, str]] = {
    "variable": (PUBLISH, {"in": {**BULLETIN, "title": "Laser\x00welding"}}, "input.title"),
    "variable, in a list": (PUBLISH, {"in": {**BULLETIN, "grades": ["DC06", "DC04\x00"]}},
                            "input.grades[1]"),
    "literal": ("""mutation { publishBulletin(input: {title: "x", body: "a\\u0000b",
                 grades: ["DC06"]}) { bulletin { id } } }""", None, "input.body"),
    "literal in a list": ("""mutation { publishBulletin(input: {title: "x", body: "y",
                           grades: ["DC06", "\\u0000"]}) { bulletin { id } } }""", None,
                          "input.grades[1]"),
    "block string": ('mutation { publishBulletin(input: {title: "x", body: """a\x00b""",'
                     ' grades: ["DC06"]}) { bulletin { id } } }', None, "input.body"),
    "variable inside a literal": (
        """mutation($name: String!) { createPushRule(input: {name: $name,
           eventTypes: ["quality.certificate_issued"]}) { rule { name } } }""",
        {"name": "certs\x00"}, "input.name"),
}
QUERIES: dict[str, tuple[str, dict[str, Any] | None, str]] = {
    "query literal": ('{ contracts(filter: {number: ["BSC\\u0000"]}) { nodes { id } } }',
                      None, "filter.number[0]"),
    "query variable": ("query($n: String) { contract(number: $n) { id } }", {"n": "x\x00"},
                       "number"),
    "variable default": ('query($n: String = "x\\u0000") { contract(number: $n) { id } }',
                         None, "number"),
    "in a fragment": ('query($n: String) { ...C } fragment C on Query {'
                      ' coil(coilNumber: $n) { id } }', {"n": "\x00"}, "coilNumber"),
}


def _check(body: dict[str, Any], argument: str) -> None:
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}, body
    assert f"`{argument}`" in error["message"] and "NUL" in error["message"]


@pytest.mark.parametrize(("document", "variables", "argument"), CASES.values(),
                         ids=CASES.keys())
async def test_a_nul_in_a_mutation_argument_is_bad_user_input(
    api: Api, document: str, variables: dict[str, Any] | None, argument: str
) -> None:
    await build(api.db)
    mill = token("BAOSTEEL", *MILL_ROLES, subject="staff.tech")
    _check(await api.query(document, variables, as_=mill), argument)
    # Refused before any resolver: nothing was written.
    assert await api.db.fetchval("SELECT count(*) FROM bulletin") == 0
    assert await api.db.fetchval("SELECT count(*) FROM push_rule") == 0


@pytest.mark.parametrize(("document", "variables", "argument"), QUERIES.values(),
                         ids=QUERIES.keys())
async def test_a_nul_in_a_query_argument_is_bad_user_input(
    api: Api, document: str, variables: dict[str, Any] | None, argument: str
) -> None:
    await build(api.db)
    _check(await api.query(document, variables, as_=token("FAW-VW")), argument)


async def test_every_argument_carrying_nul_is_named(api: Api) -> None:
    await build(api.db)
    body = await api.query('query($n: String) { a: contract(number: $n) { id }'
                           ' b: coil(coilNumber: "\\u0000") { id } }', {"n": "\x00"},
                           as_=token("FAW-VW"))
    assert [e["extensions"]["argument"] for e in body["errors"]] == ["number", "coilNumber"]


async def test_text_without_nul_goes_through(api: Api) -> None:
    await build(api.db)
    mill = token("BAOSTEEL", *MILL_ROLES, subject="staff.tech")
    # A backslash followed by `u0000` is six ordinary characters.
    data = await api.data(PUBLISH, {"in": {**BULLETIN, "body": "C:\\u0000 ok"}}, as_=mill)
    assert data["publishBulletin"]["errors"] == []
    assert await api.db.fetchval("SELECT body FROM bulletin") == "C:\\u0000 ok"


async def test_an_uploaded_file_named_with_nul_is_bad_user_input(api: Api) -> None:
    await build(api.db)
    # Written by hand: clients percent-encode the name, a hostile one need not.
    boundary = "keylinkboundary"
    operations = ('{"query": "mutation($f: Upload!) { importPlanFile(input: {file: $f}) {'
                  ' planImport { id } } }", "variables": {"f": null}}')
    parts = [
        ('name="operations"', operations.encode()),
        ('name="map"', b'{"0": ["variables.f"]}'),
        ('name="0"; filename="plan\x00.csv"\r\nContent-Type: text/csv', b"model,units\r\n"),
    ]
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; {h}\r\n\r\n".encode()
                    + content + b"\r\n" for h, content in parts) + f"--{boundary}--\r\n".encode()
    r = await api.client.post("/graphql", content=body, headers={
        "authorization": f"Bearer {token('FAW-VW')}",
        "content-type": f"multipart/form-data; boundary={boundary}"})
    _check(r.json(), "input.file")
    assert await api.db.fetchval("SELECT count(*) FROM plan_import") == 0
