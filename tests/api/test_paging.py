"""The two in-memory pagers over lists loaded whole: a keyset list (plans) takes only
a cursor of one of its items; an id-ordered list (a dispute's children) takes any id
cursor and starts past it, whether or not that row is still there. Over the API, a cursor
or an id that is not one of the list's own is bad input, never an internal error."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from resolvers.relay import BadInput, encode_cursor, id_page_of, page_of, to_global_id
from tests.support.api import Api, token
from tests.support.factory import build


@dataclass(frozen=True)
class _Row:
    id: int


ROWS = [_Row(2), _Row(5), _Row(9)]


def test_a_keyset_page_continues_after_its_own_cursor() -> None:
    page = page_of(ROWS, 1, encode_cursor([2]), lambda r: [r.id])
    assert page.nodes == [_Row(5)]
    assert page.page_info.has_next_page and page.page_info.has_previous_page


def test_a_keyset_page_refuses_a_cursor_of_no_item() -> None:
    with pytest.raises(BadInput):
        page_of(ROWS, 1, encode_cursor([3]), lambda r: [r.id])


def test_an_id_page_starts_past_an_id_no_longer_there() -> None:
    page = id_page_of(ROWS, lambda r: r.id * 10, 5, encode_cursor([3]))
    assert page.nodes == [50, 90]
    assert [e.cursor for e in page.edges] == [encode_cursor([5]), encode_cursor([9])]
    assert not page.page_info.has_next_page


def test_an_id_page_refuses_a_cursor_that_is_not_an_id() -> None:
    with pytest.raises(BadInput):
        id_page_of(ROWS, lambda r: r, 5, encode_cursor(["x"]))
    with pytest.raises(BadInput):
        page_of(ROWS, 101, None, lambda r: [r.id])


async def test_foreign_or_malformed_cursors_and_ids_are_bad_input(api: Api) -> None:
    await build(api.db)
    faw = token("FAW-VW")
    huge = to_global_id("Contract", 2**70)
    asks = [
        ('query($c: String) { contracts(after: $c) { nodes { number } } }',
         {"c": encode_cursor(["x", "y"])}),
        ('query($c: String) { contracts(orderBy: {field: SIGNED_ON}, after: $c)'
         ' { nodes { number } } }', {"c": encode_cursor(["not-a-date", 1])}),
        ('query($c: String) { settlements(after: $c) { nodes { number } } }',
         {"c": encode_cursor(["abc"])}),
        ('query($id: ID) { contract(id: $id) { number } }', {"id": huge}),
    ]
    for q, variables in asks:
        body = await api.query(q, variables, as_=faw)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (q, body)
    nodes = await api.data('query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
                           {"ids": [huge, "garbage"]}, as_=faw)
    assert nodes["nodes"] == [None, None]
