"""Evidence files of a quality dispute: photos and measurement reports.

A file is taken only if its content is of an allowed type, judged by its first bytes
(the declared type must agree, if one is declared), and only up to the size limit; it is
stored with its SHA-256 and the type found. Only the two parties read it: the customer
of the dispute and the mill.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import filetype  # type: ignore[import-untyped]

from domain.actor import Actor
from domain.db import Database, Executor
from domain.disputes import writes as disputes
from domain.errors import Invalid, InvalidTransition
from domain.tenancy import Scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Every type the sniffer can recognize; settings choose which of them are allowed.
KNOWN_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff", "application/pdf",
               "text/csv", XLSX)
# An XLSX with more parts than this is no workbook (plan files have the same limit).
MAX_WORKBOOK_PARTS = 1_000
ZIP_DIRECTORY_ENTRY = b"PK\x01\x02"
# Declared types that say nothing about the content.
_UNSPECIFIC = {"", "application/octet-stream", "binary/octet-stream"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sniff(content: bytes) -> str | None:
    """The type of a file by its content (any the library knows, so that a refusal can
    name it), or None when it is of no type recognized.

    The `filetype` library reads the magic numbers. Two judgements it does not make are
    kept here: it calls any ZIP an XLSX once an entry's name starts with ``xl/``, so the
    workbook's own parts are looked for; and text has no magic number, so UTF-8 text
    without control characters counts as CSV."""
    kind = filetype.guess(content)
    mime = str(kind.mime) if kind is not None else None
    if mime == XLSX:
        return XLSX if _is_workbook(content) else "application/zip"
    if mime is not None:
        return mime
    return "text/csv" if _is_text(content) else None


def _is_workbook(content: bytes) -> bool:
    # Each entry of a ZIP's directory starts with this signature, and `zipfile` builds an
    # object for every one: a few megabytes of empty entries would cost a second of the
    # event loop. A workbook has a handful of parts.
    if content.count(ZIP_DIRECTORY_ENTRY) > MAX_WORKBOOK_PARTS:
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def _is_text(content: bytes) -> bool:
    """UTF-8 text without control characters other than tab and line ends: a CSV or
    plain measurement table."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return bool(text.strip()) and _CONTROL.search(text) is None


@dataclass(frozen=True, slots=True)
class Evidence:
    id: int
    dispute_id: int
    customer_org_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    description: str | None
    uploaded_by: str
    uploaded_by_org_id: int
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    declared_type: str | None
    content: bytes
    # True when the sender had more than the limit: `content` holds only a prefix.
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    max_bytes: int
    allowed_types: frozenset[str]


_COLS = ("e.id, e.dispute_id, e.customer_org_id, e.filename, e.content_type, e.size_bytes,"
         " e.sha256, e.description, e.uploaded_by, e.uploaded_by_org_id, e.uploaded_at")


async def evidence_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Evidence]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM dispute_evidence e WHERE e.id = ANY($2::bigint[])"
        f" AND {Scope.owned('e.customer_org_id')}", scope.org_id, list(ids))
    return [Evidence(**dict(r)) for r in rows]


async def evidence_by_dispute_ids(db: Executor, scope: Scope, ids: Sequence[int]
                                  ) -> dict[int, list[Evidence]]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM dispute_evidence e WHERE e.dispute_id = ANY($2::bigint[])"
        f" AND {Scope.owned('e.customer_org_id')} ORDER BY e.dispute_id, e.id",
        scope.org_id, list(ids))
    out: dict[int, list[Evidence]] = {}
    for r in rows:
        out.setdefault(r["dispute_id"], []).append(Evidence(**dict(r)))
    return out


async def download(db: Executor, scope: Scope, evidence_id: int
                   ) -> tuple[Evidence, bytes] | None:
    """The file and its bytes, if the viewer is a party to its dispute."""
    row = await db.fetchrow(
        f"SELECT {_COLS}, e.content FROM dispute_evidence e WHERE e.id = $2"
        f" AND {Scope.owned('e.customer_org_id')}", scope.org_id, evidence_id)
    if row is None:
        return None
    values = dict(row)
    content: bytes = values.pop("content")
    return Evidence(**values), content


def clean_filename(name: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if not base or base in (".", ".."):
        raise Invalid("the file needs a name", field="file")
    return base[-255:]


def check(upload: Upload, policy: Policy) -> str:
    """The content type to store, or an Invalid saying why the file is refused."""
    if upload.truncated or len(upload.content) > policy.max_bytes:
        raise Invalid(f"the file is larger than the limit of {policy.max_bytes:,} bytes",
                      field="file")
    if not upload.content:
        raise Invalid("the file is empty", field="file")
    found = sniff(upload.content)
    allowed = ", ".join(sorted(policy.allowed_types))
    if found is None or found not in policy.allowed_types:
        what = found or "of no type recognized"
        raise Invalid(f"the file's content is {what}; allowed are {allowed}", field="file")
    declared = (upload.declared_type or "").split(";")[0].strip().lower()
    if declared not in _UNSPECIFIC and declared != found and not (
            found == "text/csv" and declared.startswith("text/")):
        raise Invalid(f"the file's content is {found}, not {declared} as declared",
                      field="file")
    return found


MAX_FILES_AT_OPENING = 10


async def add(db: Database, actor: Actor, dispute_id: int, upload: Upload,
              description: str | None, policy: Policy) -> Evidence:
    """Either party adds a file to an open dispute."""
    filename, content_type, description = _checked(upload, description, policy)
    async with db.transaction() as tx:
        row = await disputes.lock(tx, actor, dispute_id)
        if row["status"] not in disputes.OPEN_STATES:
            raise InvalidTransition(f"the dispute is {row['status']}: it takes no more files",
                                    field="disputeId")
        found, detail = await _store(tx, actor, row["id"], row["customer_org_id"], upload,
                                     filename, content_type, description)
        await disputes.dispute_event(tx, row, actor, "evidence_added", detail)
        return found


async def open_with_files(db: Database, actor: Actor, data: disputes.DisputeInput,
                          uploads: Sequence[Upload], policy: Policy) -> disputes.Dispute:
    """The customer opens a dispute with its first files: all are stored, or, if one is
    refused, nothing is (neither the dispute nor any file)."""
    if len(uploads) > MAX_FILES_AT_OPENING:
        raise Invalid(f"at most {MAX_FILES_AT_OPENING} files with the opening; add more "
                      "afterwards", field="files")
    checked = []
    for i, upload in enumerate(uploads):
        try:
            checked.append((upload, *_checked(upload, None, policy)))
        except Invalid as refused:
            raise Invalid(f"file {i + 1} ({upload.filename}): {refused.message}",
                          field="files") from None

    async def attach(tx: Executor, dispute_id: int) -> list[dict[str, Any]]:
        out = []
        for upload, filename, content_type, _ in checked:
            _, detail = await _store(tx, actor, dispute_id, actor.org_id, upload, filename,
                                     content_type, None)
            out.append(detail)
        return out

    return await disputes.open_dispute(db, actor, data, attach)


def _checked(upload: Upload, description: str | None, policy: Policy
             ) -> tuple[str, str, str | None]:
    return (clean_filename(upload.filename), check(upload, policy),
            disputes.clean_text(description, "description", required=False))


async def _store(tx: Executor, actor: Actor, dispute_id: int, customer_org_id: int,
                 upload: Upload, filename: str, content_type: str, description: str | None
                 ) -> tuple[Evidence, dict[str, Any]]:
    """The file's row and its step; the caller appends the event."""
    digest = hashlib.sha256(upload.content).hexdigest()
    found = await tx.fetchrow(
        "INSERT INTO dispute_evidence AS e (dispute_id, customer_org_id, filename,"
        " content_type, size_bytes, sha256, description, content, uploaded_by,"
        " uploaded_by_org_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        f" RETURNING {_COLS}",
        dispute_id, customer_org_id, filename, content_type, len(upload.content), digest,
        description, upload.content, actor.subject, actor.org_id)
    assert found is not None
    detail: dict[str, Any] = {"file": filename, "content_type": content_type,
                              "size_bytes": len(upload.content), "sha256": digest}
    await disputes.add_step(tx, dispute_id, actor, "evidence_added", None, None,
                            description, detail)
    return Evidence(**dict(found)), detail
