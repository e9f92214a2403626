"""`POST /exchange/inbox/{code}`: a partner's system sends a document to the address it
registered (a delivery schedule, a receiving advice, a CONTRL or APERAK answering a
document the platform sent it), with its own token.
`POST /exchange/as2`: the mill's AS2 station, for partners whose address names AS2: the
message is verified against the partner's pinned certificate and answered with a signed
MDN, whatever became of the document.

The body is the document as its format writes it (EDIFACT, the platform's JSON, CSV or
XLSX), bounded by ``KEYLINK_BODY_MAX_BYTES`` like any request. The answer is 200 when the
document was applied, 422 when it was refused whole, with every reason; for EDIFACT the
CONTRL answering it comes in the answer too (none answers a CONTRL or APERAK). A
document sent again is answered as the first time and applied once.
"""

from __future__ import annotations

import base64
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import AuthError
from api.bodies import error_response
from api.context import Context, Services
from domain.errors import DomainError
from domain.exchange import edifact
from domain.exchange.addresses import PERMISSIONS, Resolved, inbound_as2_codes, resolve_code
from domain.exchange.inbound import receive
from push.transports.as2 import AS2RequestError, Partner, receive_as2
from push.transports.config import TransportConfig

_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


async def post_document(request: Request) -> Response:
    services: Services = request.app.state.services
    context = Context(request=request, response=None, services=services)
    try:
        actor = await context.actor()
    except AuthError as exc:
        return error_response(401, "UNAUTHENTICATED", str(exc))
    # The partner sends with its own token; the mill's staff who keep the address book
    # may hand a document in for it. A plant system's token sends nothing here.
    if not PERMISSIONS.allows(actor, "manage_own" if actor.is_customer else "manage_any"):
        return error_response(403, "FORBIDDEN", "this needs the partner's own token or the "
                              "role admin, logistics or sales")
    to = await resolve_code(services.db, request.path_params["code"])
    # Another partner's address reads like one that does not exist.
    if to is None or not actor.acts_for(to.address.org_id) or not to.address.enabled:
        return error_response(404, "NOT_FOUND", "no such address of yours")
    if to.address.direction != "in":
        return error_response(405, "NOT_INBOUND",
                              f"{to.address.code} is an address for documents the platform "
                              "sends; it receives nothing")
    name = request.headers.get("keylink-document-name") or f"{to.address.document_type}"
    if not _NAME.fullmatch(name):
        return error_response(400, "BAD_NAME", "keylink-document-name is letters, digits, "
                              "'.', '_' and '-', at most 128")
    body = await request.body()
    if not body:
        return error_response(400, "EMPTY", "the body is the document")
    try:
        answer = await receive(services.db, to, name=name, body=body)
    except DomainError as exc:
        return error_response(400, exc.code, exc.message)
    return JSONResponse({
        "document": answer.document.id, "status": answer.document.status,
        "accepted": answer.accepted, "problems": answer.problems,
        "receipt": answer.document.receipt,
        "acknowledgement": None if answer.acknowledgement is None
        else base64.b64encode(answer.acknowledgement).decode("ascii"),
    }, status_code=200 if answer.accepted else 422)


async def post_as2(request: Request) -> Response:
    services: Services = request.app.state.services
    config = _transport_config(request)
    if config.station is None:
        return error_response(404, "NOT_FOUND", "this platform runs no AS2 station")
    partners, by_partner = await _as2_partners(services)
    body = await request.body()
    try:
        headers, mdn, received = await receive_as2(
            request.headers, body, station=config.station, partners=partners,
            max_bytes=services.settings.exchange_max_file_bytes)
    except AS2RequestError as exc:
        return Response(exc.message, status_code=exc.status, media_type="text/plain")
    if received.accepted:
        to = _addressed(by_partner.get(received.as2_from, []), received.body)
        if to is not None:
            name = received.name if received.name and _NAME.fullmatch(received.name) \
                else f"as2-{to.address.document_type}"
            await receive(services.db, to, name=name, body=received.body)
    return Response(mdn, headers=headers)


def _transport_config(request: Request) -> TransportConfig:
    """The station's keys and the transport settings, read once per process rather than
    from their files on every request."""
    state = request.app.state
    config: TransportConfig | None = getattr(state, "exchange_transport", None)
    if config is None:
        services: Services = state.services
        config = state.exchange_transport = TransportConfig.of(services.settings)
    return config


async def _as2_partners(services: Services) -> tuple[dict[str, Partner],
                                                     dict[str, list[Resolved]]]:
    """The partners that send over AS2: their pinned certificates, by AS2 name, and the
    addresses their documents go to."""
    partners: dict[str, Partner] = {}
    by_partner: dict[str, list[Resolved]] = {}
    for code in await inbound_as2_codes(services.db):
        to = await resolve_code(services.db, code)
        if to is None or not to.address.options.get("as2_id"):
            continue
        as2_id = str(to.address.options["as2_id"])
        try:
            partners.setdefault(as2_id, Partner.of(as2_id, to.credentials["certificate"]))
        except (KeyError, ValueError):
            continue
        by_partner.setdefault(as2_id, []).append(to)
    return partners, by_partner


def _addressed(addresses: list[Resolved], body: bytes) -> Resolved | None:
    """Which of a partner's addresses a document is for: the only one, or the one whose
    document an EDIFACT interchange's UNH names (a CONTRL or APERAK: the partner's
    acknowledgement address, else any of its EDIFACT ones)."""
    if len(addresses) == 1:
        return addresses[0]
    kinds = {"DELFOR": "delivery_schedule", "RECADV": "receiving_advice",
             "CONTRL": "acknowledgement", "APERAK": "acknowledgement"}
    kind = kinds.get(edifact.message_type(body) or "")
    if kind is None:
        return None
    found = next((a for a in addresses if a.address.document_type == kind), None)
    if found is None and kind == "acknowledgement":
        found = next((a for a in addresses if a.address.format == "edifact"), None)
    return found
