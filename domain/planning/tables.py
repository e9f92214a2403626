"""Reading a customer's spreadsheet, CSV or XLSX, into a heading and numbered rows,
before anything is made of them. Plan files and every exchange mapping
(`domain.exchange.mapping`) read files here, within the same limits."""

from __future__ import annotations

import contextlib
import csv
import io
import struct
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook

from domain.errors import Invalid

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
# A workbook is a handful of parts; thousands are no workbook a plan comes in.
MAX_MEMBERS = 1_000
# Inflated a piece at a time, so that a lying part costs at most this much past the limit.
_INFLATE_STEP = 64 * 1024


class BadFile(Invalid):
    """The file cannot be read at all (not CSV/XLSX, too large, no heading)."""


class FileTooLarge(BadFile):
    """The file is over a limit: its size, what it unpacks to, its rows or its cells."""

    code = "TOO_LARGE"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a file may hold; settings give them (KEYLINK_IMPORT_MAX_*)."""

    # What an XLSX's parts may unpack to, all together.
    unpacked_bytes: int = 50 * 1024 * 1024
    # Rows (empty ones included) and cells a sheet or CSV may have.
    rows: int = MAX_ROWS
    cells: int = 2_000_000


# Title lines above the heading (a sheet's name, a plan month) are looked past this far.
HEADING_SEARCH = 20


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a file's table is and how its text is written, where a partner's mapping
    says so rather than leaving it to be found out."""

    # The heading's row as the file counts them; None: the first row holding every
    # wanted name (among the first HEADING_SEARCH); 0: the file has no heading.
    heading_row: int | None = None
    # An XLSX's sheet by name; None: the first.
    sheet: str | None = None
    # A CSV's delimiter and encoding; None: sniffed, and UTF-8 else GB18030.
    delimiter: str | None = None
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    heading_row: int
    heading: list[str]
    # Non-empty rows below the heading, with their row numbers as the file counts them.
    body: list[tuple[int, list[Any]]]


def read_table(filename: str, content: bytes, wanted: Collection[str] = (),
               limits: Limits = Limits(), *, checked: bool = False,
               layout: Layout = Layout()) -> Table:
    """The heading and the rows below it of a CSV or XLSX. The heading is the first row
    holding every ``wanted`` name (among the first rows), else the first non-empty row,
    unless ``layout`` places it.

    ``limits`` are checked while reading: an XLSX is measured before openpyxl opens it
    (`check_file`), and rows and cells are counted as they come, so that a file over a
    limit is refused after at most that much work. ``checked``: `check_file` passed it
    already (it is not measured twice)."""
    name = filename.lower()
    if not checked:
        check_file(name, content, limits)
    if not name.endswith(".xlsx"):
        rows = _csv_rows(content, layout.encoding, layout.delimiter)
    elif layout.sheet is None:
        rows = _xlsx_rows(content)
    else:
        rows = _xlsx_rows(content, layout.sheet)
    found: list[tuple[int, list[Any]]] = []
    cells_seen = 0
    for number, cells in rows:
        cells_seen += len(cells)
        if number > limits.rows + HEADING_SEARCH:
            raise FileTooLarge(f"a file has at most {limits.rows} rows", field="file")
        if cells_seen > limits.cells:
            raise FileTooLarge(f"a file has at most {limits.cells} cells", field="file")
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        found.append((number, list(cells)))
    if not found:
        raise BadFile("the file is empty", field="file")
    if layout.heading_row is not None:
        table = _placed(found, layout.heading_row)
    else:
        texts = [_texts(cells) for _, cells in found[:HEADING_SEARCH]]
        at = next((i for i, t in enumerate(texts) if set(wanted) <= set(t)), 0)
        table = Table(found[at][0], texts[at], found[at + 1:])
    if len(table.body) > limits.rows:
        raise FileTooLarge(f"a file has at most {limits.rows} rows", field="file")
    return table


def _texts(cells: list[Any]) -> list[str]:
    return [str(c).strip() if c is not None else "" for c in cells]


def _placed(found: list[tuple[int, list[Any]]], heading_row: int) -> Table:
    """The table whose heading is on row ``heading_row`` (none for 0): an empty row there
    is an empty heading, and only the rows below it are the body."""
    heading = next((cells for number, cells in found if number == heading_row), [])
    return Table(heading_row, _texts(heading),
                 [(number, cells) for number, cells in found if number > heading_row])


def check_file(name: str, content: bytes, limits: Limits = Limits()) -> None:
    """Refuse a file that is not CSV or XLSX, or over its size; of an XLSX, also one whose
    parts unpack to more than ``limits.unpacked_bytes``. Cheap enough to run before an
    import is accepted: an XLSX over the limit costs at most the limit's inflating."""
    if len(content) > MAX_FILE_BYTES:
        raise FileTooLarge(f"the file is over {MAX_FILE_BYTES // (1024 * 1024)} MB",
                           field="file")
    name = name.lower()
    if name.endswith(".xlsx"):
        unpacked_size(content, limits.unpacked_bytes)
    elif not name.endswith((".csv", ".txt")):
        raise BadFile("send a .csv or .xlsx file", field="file")


def unpacked_size(content: bytes, limit: int) -> int:
    """What the parts of a ZIP (an XLSX) unpack to, in bytes, refused past ``limit``.

    The sizes each part declares are checked first; since they can lie, each part's data
    is then inflated a piece at a time, counting what comes out, and the count stops
    the moment the whole passes ``limit``. The data read is what the part's own header
    points at, so that a part cannot hide behind another one's sizes."""
    # Counted before `zipfile` reads the directory, which costs an object per entry: every
    # entry starts with this signature.
    if content.count(b"PK\x01\x02") > MAX_MEMBERS:
        raise FileTooLarge(f"the workbook has more than {MAX_MEMBERS} parts", field="file")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise BadFile("the file is not an XLSX workbook", field="file") from None
    too_large = FileTooLarge(
        f"the workbook unpacks to more than {limit // (1024 * 1024) or limit}"
        f" {'MB' if limit >= 1024 * 1024 else 'bytes'}", field="file")
    if len(parts) > MAX_MEMBERS:
        raise FileTooLarge(f"the workbook has more than {MAX_MEMBERS} parts", field="file")
    if sum(p.file_size for p in parts) > limit:
        raise too_large
    total = 0
    for part in parts:
        for piece in _inflated(content, part):
            total += piece
            if total > limit:
                raise too_large
    return total


def _inflated(content: bytes, part: zipfile.ZipInfo) -> Iterator[int]:
    """The sizes of the pieces a part's data inflates to, a piece at a time."""
    at = part.header_offset
    header = content[at:at + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise BadFile("the file is not an XLSX workbook", field="file")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = at + 30 + name_len + extra_len
    # Not beyond the file, whatever the sizes say.
    data = memoryview(content)[start:start + max(part.compress_size, 0)]
    if part.compress_type == zipfile.ZIP_STORED:
        yield len(data)
        return
    if part.compress_type != zipfile.ZIP_DEFLATED:
        raise BadFile("the workbook uses a compression XLSX does not", field="file")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        # The input goes in a piece at a time too, so that what is left over is never
        # copied more than a piece's length.
        for offset in range(0, len(data), _INFLATE_STEP):
            pending: bytes | memoryview = data[offset:offset + _INFLATE_STEP]
            while pending and not inflater.eof:
                yield len(inflater.decompress(pending, _INFLATE_STEP))
                pending = inflater.unconsumed_tail
            if inflater.eof:
                return
        yield len(inflater.flush())
    except zlib.error:
        raise BadFile("the file is not an XLSX workbook", field="file") from None


def _csv_rows(content: bytes, encoding: str | None = None,
              delimiter: str | None = None) -> Iterator[tuple[int, list[Any]]]:
    if encoding is not None:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            raise BadFile(f"the CSV file is not {encoding}", field="file") from None
        text = text.removeprefix("\ufeff")
    else:
        # Spreadsheets exported in China are often GB18030 rather than UTF-8.
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = content.decode("gb18030")
            except UnicodeDecodeError:
                raise BadFile("the CSV file is neither UTF-8 nor GB18030",
                              field="file") from None
    dialect: Any = csv.excel
    if delimiter is None:
        with contextlib.suppress(csv.Error):
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    reader = csv.reader(io.StringIO(text), dialect, delimiter=delimiter or dialect.delimiter)
    for i, row in enumerate(reader, start=1):
        yield i, list(row)


def _xlsx_rows(content: bytes, sheet_name: str | None = None
               ) -> Iterator[tuple[int, list[Any]]]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise BadFile("the file is not an XLSX workbook", field="file") from None
    try:
        if sheet_name is None:
            sheet = book.worksheets[0]
        elif sheet_name in book.sheetnames:
            sheet = book[sheet_name]
        else:
            raise BadFile(f"the workbook has no sheet {sheet_name!r}", field="file")
        # The sheet's own dimension is not believed: a sheet claiming A1:XFD1048576 would
        # have every row padded to 16,384 cells. Rows are read as they are.
        sheet.reset_dimensions()
        for i, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield i, list(row)
    finally:
        book.close()
