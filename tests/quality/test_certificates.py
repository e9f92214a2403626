"""EN 10204 certificate content and its hash, and who may read a certificate: the owner
of its coil today."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.db import json_dumps, json_loads
from domain.quality.certificates import (
    canonical_bytes,
    certificate_content,
    content_hash,
    decimal_text,
    utc_text,
    verify,
)
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import build

CST = timezone(timedelta(hours=8))


def _content(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "cert_no": "QC-BX26C0012345",
        "certificate_type": "3.1",
        "heat_no": "26H12345",
        "coil_no": "BX26C0012345",
        "grade": "DX54D+Z",
        "standard": "EN 10346",
        "chemistry": {"C": Decimal("0.0020"), "Mn": Decimal("0.15"), "Ti": Decimal("0.065")},
        "yield_strength_mpa": Decimal("165"),
        "tensile_strength_mpa": Decimal("301.0"),
        "elongation_pct": Decimal("41.5"),
        "coating_designation": "Z100",
        "coating_mass_g_m2": Decimal("112"),
        "issued_at": datetime(2026, 3, 5, 17, 30, tzinfo=CST),
        "issued_by": "qa.wang",
    }
    args.update(changes)
    return certificate_content(**args)


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(v) for k, v in reversed(list(value.items()))}
    return value


def test_content_is_plain_json_with_exact_text() -> None:
    content = _content()
    assert content["document"] == {
        "standard": "EN 10204:2004", "type": "3.1", "cert_no": "QC-BX26C0012345",
        "issued_at": "2026-03-05T09:30:00Z", "issued_by": "qa.wang", "manufacturer": "BAOSTEEL",
    }
    assert content["chemistry_pct"] == {"C": "0.002", "Mn": "0.15", "Ti": "0.065"}
    assert content["mechanical"] == {
        "yield_strength_mpa": "165", "tensile_strength_mpa": "301", "elongation_pct": "41.5"}
    assert content["coating"] == {"designation": "Z100", "mass_g_m2": "112"}
    assert content["product"]["coil_no"] == "BX26C0012345"
    # Survives a JSON store unchanged.
    assert json.loads(json.dumps(content)) == content


def test_uncoated_heat_certificate() -> None:
    content = _content(coil_no=None, coating_designation=None, coating_mass_g_m2=None,
                       grade="DC04", standard="EN 10130")
    assert content["coating"] is None
    assert content["product"]["coil_no"] is None


def test_hash_is_sha256_of_the_canonical_bytes() -> None:
    content = {"b": "1", "a": {"y": None, "x": "é"}}
    assert canonical_bytes(content) == '{"a":{"x":"é","y":null},"b":"1"}'.encode()
    assert content_hash(content) == hashlib.sha256(canonical_bytes(content)).hexdigest()
    # Pinned: stored certificates are verified against this serialization, so it must
    # never change silently.
    assert content_hash(_content()) == (
        "fdeee591749a218d6c6cd0bd97a78866d54d5bc3390ebc21f92e943cc797d087")


def test_hash_ignores_key_order() -> None:
    content = _content()
    assert content_hash(_reordered(content)) == content_hash(content)


def test_equal_decimals_hash_equally() -> None:
    assert decimal_text(Decimal("1.50")) == decimal_text(Decimal("1.5")) == "1.5"
    assert decimal_text(Decimal("1E+2")) == "100"
    assert decimal_text(Decimal("-0.00")) == "0"
    assert content_hash(_content(elongation_pct=Decimal("41.50"))) == content_hash(_content())
    assert content_hash(_content(chemistry={
        "C": Decimal("0.002"), "Mn": Decimal("0.150"), "Ti": Decimal("0.0650")})) == \
        content_hash(_content())


def test_same_instant_in_any_zone_hashes_equally() -> None:
    utc = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
    assert content_hash(_content(issued_at=utc)) == content_hash(_content())


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    return [path]


def test_any_changed_value_changes_the_hash() -> None:
    content = _content()
    original = content_hash(content)
    paths = _leaves(content)
    assert len(paths) > 15
    for path in paths:
        changed = json.loads(json.dumps(content))
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = "tampered" if target[path[-1]] != "tampered" else "x"
        assert content_hash(changed) != original, path
        assert not verify(changed, original)
    for change in ({"heat_no": "26H12346"}, {"yield_strength_mpa": Decimal("166")},
                   {"chemistry": {"C": Decimal("0.0021"), "Mn": Decimal("0.15"),
                                  "Ti": Decimal("0.065")}},
                   {"issued_at": datetime(2026, 3, 5, 17, 31, tzinfo=CST)},
                   {"coating_mass_g_m2": None}):
        assert content_hash(_content(**change)) != original, change


def test_verify() -> None:
    content = _content()
    digest = content_hash(content)
    assert len(digest) == 64 and digest == digest.lower()
    assert verify(content, digest)
    assert verify(content, digest.upper())
    assert not verify(content, "0" * 64)
    # What comes back from the database (Decimal-parsing JSON) verifies too.
    assert verify(json_loads(json_dumps(content)), digest)
    assert not verify({**content, "extra": 1.5}, digest)


def test_refuses_what_has_no_canonical_form() -> None:
    with pytest.raises(ValueError, match="time zone"):
        _content(issued_at=datetime(2026, 3, 5, 9, 30))
    with pytest.raises(ValueError, match="finite"):
        _content(elongation_pct=Decimal("NaN"))
    with pytest.raises(ValueError, match="certificate type"):
        _content(certificate_type="3.3")
    with pytest.raises(TypeError):
        content_hash({"x": 1.5})
    with pytest.raises(TypeError):
        content_hash({"x": object()})
    # Decimals and times inside the content are written as the builder writes them.
    assert content_hash({"x": Decimal("1.50")}) == content_hash({"x": "1.5"})


_SCALARS = (st.text(max_size=12) | st.integers(-(10**20), 10**20) | st.none() | st.booleans()
            | st.decimals(allow_nan=False, allow_infinity=False, places=3)
            | st.datetimes(timezones=st.timezones()))
_CONTENT = st.dictionaries(st.text(max_size=8), st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20), max_size=8)


@settings(max_examples=300, deadline=None)
@given(_CONTENT)
def test_canonical_bytes_are_the_standard_encoders(content: dict[str, Any]) -> None:
    # The fast encoder writes byte for byte what the standard library's writes with the
    # canonical settings: hashes stored before and after agree.
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return decimal_text(value)
        if isinstance(value, datetime):
            return utc_text(value)
        raise TypeError

    try:
        expected = json.dumps(content, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False, allow_nan=False,
                              default=default).encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises((UnicodeEncodeError, TypeError)):
            canonical_bytes(content)
        return
    assert canonical_bytes(content) == expected


async def test_certificate_follows_the_coil_owner_not_a_copy(api: Api) -> None:
    w = await build(api.db)
    coil = w.coils["FAW-VW"][0]
    await api.db.execute(
        "UPDATE coil SET customer_org_id = $2, line_id = $3 WHERE id = $1",
        coil, w.org["GALANZ"], w.line["GALANZ"])
    q = "query($id: ID!) { node(id: $id) { ... on QualityCertificate { certNo } } }"
    cert = {"id": to_global_id("QualityCertificate", w.certificate["FAW-VW"])}
    assert (await api.data(q, cert, as_=token("FAW-VW")))["node"] is None
    assert (await api.data(q, cert, as_=token("GALANZ")))["node"] == {"certNo": "QC-FAW-VW"}
