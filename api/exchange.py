"""`POST /exchange/inbox/{code}`: a partner's system sends a document to the address it
registered (a delivery schedule, a receiving advice), with its own token.

The body is the document as its format writes it (EDIFACT, the platform's JSON), bounded
by ``KEYLINK_BODY_MAX_BYTES`` like any request. The answer is 200 when the document was
applied, 422 when it was refused whole, with every reason; for EDIFACT the CONTRL
answering it comes in the answer too. A document sent again is answered as the first
time and applied once.
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
from domain.exchange.addresses import PERMISSIONS, resolve_code
from domain.exchange.inbound import receive

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
