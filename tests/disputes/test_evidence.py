"""Evidence files: uploaded as GraphQL multipart requests, judged by their content, capped
in size, stored with their hash, and downloadable only by the two parties."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openpyxl
import pytest

from api.app import create_app
from api.context import Services
from domain.db import Database
from domain.disputes import evidence
from domain.disputes import writes as disputes
from domain.errors import Invalid, InvalidTransition
from resolvers.relay import to_global_id
from settings import Settings, SettingsError
from tests.disputes.test_disputes import customer, delivered_world, dispute_input
from tests.support.api import CODEC, SETTINGS, token
from tests.support.factory import World

LIMIT = 8000
UPLOAD = """mutation($input: AddDisputeEvidenceInput!) { addDisputeEvidence(input: $input) {
    evidence { id filename contentType sizeBytes sha256 description uploadedBy downloadPath }
    errors { field message code } } }"""
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["coil", "thickness_mm"])
    book.active.append(["FAW-VW-0", 0.82])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class Client:
    def __init__(self, http: httpx.AsyncClient, db: Database) -> None:
        self.http, self.db = http, db

    async def upload(self, dispute: str, name: str, content: bytes, ctype: str | None, *,
                     as_: str, description: str | None = "edge, coil 0") -> dict[str, Any]:
        ops = {"query": UPLOAD, "variables": {"input": {
            "disputeId": dispute, "file": None, "description": description}}}
        r = await self.http.post(
            "/graphql", headers={"authorization": f"Bearer {as_}"},
            data={"operations": json.dumps(ops),
                  "map": json.dumps({"0": ["variables.input.file"]})},
            files={"0": (name, content, ctype) if ctype else (name, content)})
        body: dict[str, Any] = r.json()
        if r.status_code != 200:
            return {"status": r.status_code, **body}
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["addDisputeEvidence"]
        return payload


@pytest.fixture
async def client(db: Database) -> AsyncIterator[Client]:
    settings = SETTINGS.replace(evidence_max_bytes=LIMIT, upload_max_bytes=LIMIT * 4)
    app = create_app(settings, services=Services(db=db, codec=CODEC))
    app.state.services = Services(db=db, codec=CODEC)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keylink.test") as http:
        yield Client(http, db)


async def faw_dispute(db: Database) -> tuple[World, str]:
    w = await delivered_world(db)
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    return w, to_global_id("QualityDispute", d.id)


async def stored(db: Database) -> tuple[int, int, int]:
    """Files, evidence steps and evidence events: all three stay at zero on a refusal."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM dispute_evidence) AS files,"
        " (SELECT count(*) FROM dispute_step WHERE action = 'evidence_added') AS steps,"
        " (SELECT count(*) FROM domain_event WHERE event_type = 'dispute.evidence_added')"
        " AS events")
    assert row is not None
    return row["files"], row["steps"], row["events"]


async def test_a_photo_goes_up_and_only_the_two_parties_get_it_back(client: Client) -> None:
    _, dispute = await faw_dispute(client.db)
    faw = token("FAW-VW", subject="buyer.faw")
    up = await client.upload(dispute, "../../edge 1.jpg", JPEG, "image/jpeg", as_=faw)
    assert up["errors"] == []
    e = up["evidence"]
    assert {k: e[k] for k in ("filename", "contentType", "sizeBytes", "sha256", "uploadedBy")} \
        == {"filename": "edge 1.jpg", "contentType": "image/jpeg", "sizeBytes": len(JPEG),
            "sha256": hashlib.sha256(JPEG).hexdigest(), "uploadedBy": "buyer.faw"}
    assert await stored(client.db) == (1, 1, 1)
    path = e["downloadPath"]
    for who in (faw, token("BAOSTEEL", "quality")):
        r = await client.http.get(path, headers={"authorization": f"Bearer {who}"})
        assert r.status_code == 200 and r.content == JPEG
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "filename*=UTF-8''edge%201.jpg" in r.headers["content-disposition"]
    etag = f'"{e["sha256"]}"'
    again = await client.http.get(path, headers={"authorization": f"Bearer {faw}",
                                                 "if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    denied = await client.http.get(path, headers={"authorization": f"Bearer {token('GALANZ')}"})
    assert denied.status_code == 404 and denied.json()["errors"][0]["extensions"]["code"] \
        == "NOT_FOUND"
    assert (await client.http.get(path)).status_code == 401
    node = {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": e["id"]}}
    for who, seen in ((faw, True), (token("GALANZ"), False)):
        r = await client.http.post("/graphql", json=node,
                                   headers={"authorization": f"Bearer {who}"})
        assert (r.json()["data"]["node"] is not None) is seen
    assert (await client.http.get("/evidence/nonsense", headers={
        "authorization": f"Bearer {faw}"})).status_code == 404
    # The mill adds its measurement report; GALANZ can neither add nor list.
    report = await client.upload(dispute, "thickness.xlsx", xlsx(), None,
                                 as_=token("BAOSTEEL", "quality"))
    assert report["evidence"]["contentType"] == evidence.XLSX
    foreign = await client.upload(dispute, "x.jpg", JPEG, "image/jpeg", as_=token("GALANZ"))
    assert foreign["errors"][0]["code"] == "NOT_FOUND"
    assert await stored(client.db) == (2, 2, 2)
    listed = {"query": "query($id: ID!) { dispute(id: $id) { evidence(first: 1) {"
              " nodes { filename uploadedBy } pageInfo { hasNextPage } } } }",
              "variables": {"id": dispute}}
    r = await client.http.post("/graphql", json=listed, headers={"authorization": f"Bearer {faw}"})
    assert r.json()["data"]["dispute"]["evidence"] == {
        "nodes": [{"filename": "edge 1.jpg", "uploadedBy": "buyer.faw"}],
        "pageInfo": {"hasNextPage": True}}


@pytest.mark.parametrize(("name", "content", "ctype", "says"), [
    ("big.jpg", JPEG + b"\x00" * LIMIT, "image/jpeg", "larger than the limit of 8,000 bytes"),
    ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/octet-stream",
     "content is application/x-msdownload; allowed are application/pdf"),
    ("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00", "image/gif",
     "content is image/gif; allowed are"),
    ("photo.jpg", PNG, "image/jpeg", "content is image/png, not image/jpeg as declared"),
    ("page.html", b"<html><script>alert(1)</script></html>\x00", "text/html",
     "of no type recognized"),
    ("empty.jpg", b"", "image/jpeg", "the file is empty"),
])
async def test_a_refused_file_stores_nothing(
        client: Client, name: str, content: bytes, ctype: str, says: str) -> None:
    _, dispute = await faw_dispute(client.db)
    up = await client.upload(dispute, name, content, ctype, as_=token("FAW-VW"))
    assert up["evidence"] is None
    assert up["errors"][0]["field"] == "file" and up["errors"][0]["code"] == "INVALID"
    assert says in up["errors"][0]["message"]
    assert await stored(client.db) == (0, 0, 0)


async def test_an_oversized_request_is_refused_before_it_is_read(client: Client) -> None:
    _, dispute = await faw_dispute(client.db)
    up = await client.upload(dispute, "huge.jpg", JPEG + b"\x00" * (LIMIT * 4),
                             "image/jpeg", as_=token("FAW-VW"))
    assert up["status"] == 413
    assert up["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await stored(client.db) == (0, 0, 0)


def many_parts(parts: int) -> bytes:
    """A workbook's two telling parts and ``parts`` empty ones: small, yet each entry of its
    directory would cost `zipfile` an object to read."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(parts):
            z.writestr(zipfile.ZipInfo(f"{i:x}"), b"")
    return out.getvalue()


async def test_a_workbook_of_thousands_of_parts_is_refused_unread(db: Database) -> None:
    _, dispute = await faw_dispute(db)
    settings = SETTINGS.replace(evidence_max_bytes=1024 * 1024,
                                upload_max_bytes=2 * 1024 * 1024)
    app = create_app(settings, services=Services(db=db, codec=CODEC))
    app.state.services = Services(db=db, codec=CODEC)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keylink.test") as http:
        client = Client(http, db)
        up = await client.upload(dispute, "thickness.xlsx", many_parts(evidence.MAX_WORKBOOK_PARTS),
                                 None, as_=token("FAW-VW"))
        assert up["errors"][0]["code"] == "INVALID"
        assert "content is application/zip" in up["errors"][0]["message"]
        assert await stored(db) == (0, 0, 0)
        # A workbook of a few parts is one.
        up = await client.upload(dispute, "thickness.xlsx", many_parts(10), None,
                                 as_=token("FAW-VW"))
        assert up["errors"] == [] and up["evidence"]["contentType"] == evidence.XLSX


async def test_allowed_types_follow_the_settings_and_closed_disputes_take_no_files(
        db: Database) -> None:
    w = await delivered_world(db)
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    images = evidence.Policy(max_bytes=LIMIT, allowed_types=frozenset({"image/jpeg"}))
    with pytest.raises(Invalid, match="application/pdf; allowed are image/jpeg"):
        await evidence.add(db, customer(w), d.id, evidence.Upload("r.pdf", None, PDF), None,
                           images)
    csv = b"coil;thickness\nFAW-VW-0;0,82\n"
    everything = evidence.Policy(LIMIT, frozenset(evidence.KNOWN_TYPES))
    kept = await evidence.add(db, customer(w), d.id,
                              evidence.Upload("t.csv", "text/plain", csv), None, everything)
    assert kept.content_type == "text/csv" and kept.size_bytes == len(csv)
    await disputes.transition(db, customer(w), d.id, "withdraw", None)
    with pytest.raises(InvalidTransition):
        await evidence.add(db, customer(w), d.id, evidence.Upload("p.pdf", None, PDF), None,
                           everything)


def test_sniffing_judges_the_content() -> None:
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 16
    assert [evidence.sniff(b) for b in (JPEG, PNG, PDF, xlsx(), b"a,b\n1,2\n",
                                        b"RIFF\x00\x00\x00\x00WEBPVP8 ", tiff)] == [
        "image/jpeg", "image/png", "application/pdf", evidence.XLSX, "text/csv",
        "image/webp", "image/tiff"]
    # A ZIP is a workbook only with a workbook's parts: a name under xl/ is not enough.
    fake = io.BytesIO()
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("xl/macro.bin", b"MZ")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("payload.exe", b"MZ")
    # Types the library knows but that are not evidence are named; bytes of no type are not.
    assert [evidence.sniff(b) for b in (fake.getvalue(), zipped.getvalue(),
                                        b"GIF89a\x01\x00\x01\x00\x00",
                                        b"MZ\x90\x00" + b"\x00" * 100)] == [
        "application/zip", "application/zip", "image/gif", "application/x-msdownload"]
    for other in (b"\x00\x01binary", b"   "):
        assert evidence.sniff(other) is None
    assert evidence.clean_filename("C:\\Users\\qa\\edge\x07.jpg") == "edge.jpg"


def test_evidence_settings_are_checked() -> None:
    for bad in ("image/gif", "", "image/jpeg,text/html"):
        with pytest.raises(SettingsError, match="KEYLINK_EVIDENCE_TYPES"):
            Settings.from_env({"KEYLINK_EVIDENCE_TYPES": bad or " , "})
    with pytest.raises(SettingsError, match="KEYLINK_EVIDENCE_MAX_BYTES"):
        Settings.from_env({"KEYLINK_EVIDENCE_MAX_BYTES": "0"})
    assert Settings.from_env({"KEYLINK_EVIDENCE_TYPES": " IMAGE/PNG , application/pdf"}
                             ).evidence_type_list == ("image/png", "application/pdf")
    assert set(Settings().evidence_type_list) == set(evidence.KNOWN_TYPES)


OPEN = """mutation($input: OpenDisputeInput!) { openDispute(input: $input) {
    dispute { number timeline { nodes { action detail } }
              evidence { nodes { filename contentType sha256 } } }
    errors { field message code } } }"""


async def test_a_dispute_opens_with_its_files_or_not_at_all(client: Client) -> None:
    w = await delivered_world(client.db)
    faw = token("FAW-VW")

    async def open_with(files: list[tuple[str, bytes, str]]) -> dict[str, Any]:
        ops = {"query": OPEN, "variables": {"input": {
            "coilIds": [to_global_id("Coil", w.coils["FAW-VW"][0])], "defectKind": "SURFACE",
            "description": "edge cracks", "affectedTonnes": "1.5",
            "foundDuring": "INCOMING_INSPECTION", "files": [None] * len(files)}}}
        r = await client.http.post(
            "/graphql", headers={"authorization": f"Bearer {faw}"},
            data={"operations": json.dumps(ops), "map": json.dumps(
                {str(i): [f"variables.input.files.{i}"] for i in range(len(files))})},
            files={str(i): f for i, f in enumerate(files)})
        body: dict[str, Any] = r.json()["data"]["openDispute"]
        return body

    refused = await open_with([("edge.jpg", JPEG, "image/jpeg"),
                               ("page.html", b"<html>\x00</html>", "text/html")])
    assert refused["dispute"] is None
    assert refused["errors"][0]["field"] == "files"
    assert refused["errors"][0]["message"].startswith("file 2 (page.html): ")
    assert await client.db.fetchval("SELECT count(*) FROM quality_dispute") == 0
    assert await stored(client.db) == (0, 0, 0)

    opened = await open_with([("edge.jpg", JPEG, "image/jpeg"),
                              ("report.pdf", PDF, "application/pdf")])
    assert opened["errors"] == []
    d = opened["dispute"]
    assert [(e["filename"], e["contentType"]) for e in d["evidence"]["nodes"]] == [
        ("edge.jpg", "image/jpeg"), ("report.pdf", "application/pdf")]
    assert [s["action"] for s in d["timeline"]["nodes"]] == [
        "opened", "evidence_added", "evidence_added"]
    event = await client.db.fetchval(
        "SELECT payload FROM domain_event WHERE event_type = 'dispute.opened'")
    assert [f["sha256"] for f in event["files"]] == [
        hashlib.sha256(JPEG).hexdigest(), hashlib.sha256(PDF).hexdigest()]
    # One event for the opening, not one per file.
    assert await stored(client.db) == (2, 2, 0)
