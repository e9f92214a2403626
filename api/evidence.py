"""`GET /evidence/{id}`: download an evidence file of a quality dispute.

The bearer token is checked as for `/graphql`; only the two parties to the dispute (the
customer that opened it and the mill's staff) get the file. Anyone else gets 404, exactly
as for a file that does not exist.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import AuthError
from api.context import Context, Services
from domain.disputes import evidence
from resolvers.relay import BadInput, expect_id


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]},
                        status_code=status)


async def download(request: Request) -> Response:
    services: Services = request.app.state.services
    context = Context(request=request, response=None, services=services)
    try:
        who = await context.viewer()
    except AuthError as exc:
        return _error(401, "UNAUTHENTICATED", str(exc))
    try:
        pk = expect_id(request.path_params["evidence_id"], "DisputeEvidence")
    except BadInput:
        return _error(404, "NOT_FOUND", "no such file")
    found = await evidence.download(services.db, who.scope, pk)
    if found is None:
        return _error(404, "NOT_FOUND", "no such file")
    meta, content = found
    if request.headers.get("if-none-match") == f'"{meta.sha256}"':
        return Response(status_code=304, headers={"etag": f'"{meta.sha256}"'})
    ascii_name = meta.filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(content, media_type=meta.content_type, headers={
        "content-disposition": (f'attachment; filename="{ascii_name}";'
                                f" filename*=UTF-8''{quote(meta.filename)}"),
        "etag": f'"{meta.sha256}"',
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
    })
