"""Plan files over a limit: an XLSX whose parts unpack to far more than it weighs (with
honest or lying sizes), a sheet that claims a million rows or holds too many cells. Each
is refused after a bounded amount of work, counted in bytes inflated and rows read."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import Workbook

from domain.planning import tables
from domain.planning.tables import BadFile, FileTooLarge, Limits, read_table
from tests.planning.test_planning_api import finished, upload
from tests.support.api import Api, token
from tests.support.factory import build

FAW = token("FAW-VW", subject="planner.faw")
MB = 1024 * 1024
# One shared string, repeated: deflate packs 60 MB of it into about 60 KB.
_SI = b"<si><t>" + b"A" * 200 + b"</t></si>"


def _workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["model", "period_start", "units"])
    sheet.append(["SAGITAR", "2026-11-30", 100])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def bomb(unpacked: int) -> bytes:
    """A real workbook whose shared strings part is replaced by ``unpacked`` bytes of
    repeated strings."""
    source = zipfile.ZipFile(io.BytesIO(_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            if item.filename != "xl/sharedStrings.xml":
                z.writestr(item.filename, source.read(item.filename))
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                       b'spreadsheetml/2006/main">')
            chunk = _SI * (MB // len(_SI))
            for _ in range(unpacked // len(chunk)):
                part.write(chunk)
            part.write(b"</sst>")
    return out.getvalue()


def lying(content: bytes, member: str, size: int) -> bytes:
    """The same ZIP with ``member``'s uncompressed size declared as ``size`` in both its
    local header and the central directory."""
    data = bytearray(content)
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(member)
    name = member.encode()
    # Local header: uncompressed size at offset 22 (or in its zip64 extra field).
    at = info.header_offset
    struct.pack_into("<I", data, at + 22, size)
    # Central directory entry: signature, then the uncompressed size at offset 24.
    central = data.rfind(b"PK\x01\x02", 0, len(data))
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + name_len]) == name:
            struct.pack_into("<I", data, central + 24, size)
            extra_len = struct.unpack_from("<H", data, central + 30)[0]
            extra = central + 46 + name_len
            # A zip64 extra field carries the real sizes: drop it by renaming its id.
            if extra_len:
                data[extra:extra + 2] = b"\xff\xfe"
            break
        central = data.rfind(b"PK\x01\x02", 0, central)
    local_extra = struct.unpack_from("<H", data, at + 28)[0]
    if local_extra:
        extra = at + 30 + len(name)
        data[extra:extra + 2] = b"\xff\xfe"
    return bytes(data)


class Meter:
    """Counts what every decompressor of the process gives out (zipfile's and openpyxl's
    included) from when it is reset."""

    def __init__(self) -> None:
        self.inflated = 0
        self._make = zlib.decompressobj

    def decompressobj(self, *args: Any) -> Any:
        real = self._make(*args)
        meter = self

        class Counting:
            @property
            def eof(self) -> bool:
                return bool(real.eof)

            @property
            def unconsumed_tail(self) -> bytes:
                return bytes(real.unconsumed_tail)

            def decompress(self, data: Any, max_length: int = 0) -> bytes:
                out = real.decompress(data, max_length)
                meter.inflated += len(out)
                return bytes(out)

            def flush(self) -> bytes:
                out = real.flush()
                meter.inflated += len(out)
                return bytes(out)

        return Counting()


@pytest.fixture
def meter(monkeypatch: pytest.MonkeyPatch) -> Meter:
    m = Meter()
    monkeypatch.setattr(zlib, "decompressobj", m.decompressobj)

    def never(*_: Any, **__: Any) -> Any:
        raise AssertionError("the workbook was opened although it is over the limit")

    monkeypatch.setattr(tables, "load_workbook", never)
    return m


def test_a_workbook_unpacking_past_the_limit_is_refused_by_its_declared_sizes(
        meter: Meter) -> None:
    content = bomb(60 * MB)
    assert len(content) < MB
    meter.inflated = 0
    with pytest.raises(FileTooLarge) as refused:
        read_table("plan.xlsx", content, limits=Limits(unpacked_bytes=50 * MB))
    assert refused.value.code == "TOO_LARGE"
    assert "unpacks to more than 50 MB" in refused.value.message
    assert meter.inflated == 0


def test_lying_sizes_are_caught_while_inflating_and_the_work_stays_bounded(
        meter: Meter) -> None:
    content = lying(bomb(60 * MB), "xl/sharedStrings.xml", 1000)
    declared = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist())
    assert declared < 100_000
    limit = 5 * MB
    meter.inflated = 0
    with pytest.raises(FileTooLarge):
        read_table("plan.xlsx", content, limits=Limits(unpacked_bytes=limit))
    # It stopped a piece past the limit, not at the 60 MB the part holds.
    assert limit < meter.inflated <= limit + 64 * 1024


def test_a_workbook_within_the_limit_reads_as_before() -> None:
    table = read_table("plan.xlsx", _workbook(), ["model"], Limits(unpacked_bytes=MB))
    assert table.heading == ["model", "period_start", "units"]
    assert [cells for _, cells in table.body] == [["SAGITAR", "2026-11-30", 100]]


def test_a_file_that_is_no_zip_is_not_a_workbook() -> None:
    with pytest.raises(BadFile) as refused:
        read_table("plan.xlsx", b"PK\x03\x04 not a zip at all")
    assert not isinstance(refused.value, FileTooLarge)


def _counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    seen = {"rows": 0, "cells": 0}
    real = tables._xlsx_rows

    def counting(content: bytes) -> Iterator[tuple[int, list[Any]]]:
        for number, cells in real(content):
            seen["rows"] += 1
            seen["cells"] += len(cells)
            yield number, cells

    monkeypatch.setattr(tables, "_xlsx_rows", counting)
    return seen


def test_a_sheet_claiming_a_million_rows_stops_at_the_row_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Two cells, at A1 and XFD1048576: the sheet's dimension says A1:XFD1048576.
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "model"
    sheet["XFD1048576"] = "x"
    buf = io.BytesIO()
    book.save(buf)
    seen = _counted(monkeypatch)
    with pytest.raises(FileTooLarge) as refused:
        read_table("plan.xlsx", buf.getvalue(), limits=Limits(rows=1000))
    assert "at most 1000 rows" in refused.value.message
    assert seen["rows"] <= 1000 + tables.HEADING_SEARCH + 1
    # The claimed width is not believed: no row is padded to 16,384 cells.
    assert seen["cells"] <= 10


def test_cells_are_counted_as_they_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for r in range(200):
        sheet.append([f"v{r}.{c}" for c in range(100)])
    buf = io.BytesIO()
    book.save(buf)
    seen = _counted(monkeypatch)
    with pytest.raises(FileTooLarge) as refused:
        read_table("plan.xlsx", buf.getvalue(), limits=Limits(cells=5000))
    assert "at most 5000 cells" in refused.value.message
    assert seen["cells"] <= 5000 + 100


def test_a_csv_over_the_row_limit_is_refused() -> None:
    content = ("model,units\n" + "SAGITAR,1\n" * 2000).encode()
    with pytest.raises(FileTooLarge):
        read_table("plan.csv", content, limits=Limits(rows=1000))


async def test_import_plan_file_refuses_a_bomb_with_a_typed_error(api: Api) -> None:
    await build(api.db)
    content = lying(bomb(60 * MB), "xl/sharedStrings.xml", 1000)
    got = await upload(api, "plan.xlsx", content, as_=FAW)
    assert got["planImport"] is None
    assert got["errors"] == [{"field": "file", "code": "TOO_LARGE",
                              "message": "the workbook unpacks to more than 50 MB"}]
    assert await api.db.fetchval("SELECT count(*) FROM plan_import") == 0


async def test_an_uploaded_workbook_is_measured_once(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    await build(api.db)
    measured: list[int] = []
    real = tables.unpacked_size

    def counting(content: bytes, limit: int) -> int:
        measured.append(limit)
        return real(content, limit)

    monkeypatch.setattr(tables, "unpacked_size", counting)
    started = await upload(api, "plan.xlsx", _workbook(), as_=FAW)
    job = await finished(api, started["planImport"]["id"], as_=FAW)
    assert job["status"] in ("SUCCEEDED", "FAILED")
    # Accepted once before the import started; the import does not inflate it again.
    assert measured == [50 * MB]
