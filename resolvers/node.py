"""`node`, `nodes` and `viewer`: fetch any object by global id, and ask who you are."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import parties
from resolvers.common import loaders, viewer
from resolvers.contracts.types import Contract, ContractLine
from resolvers.disputes.types import Claim, DisputeEvidence, QualityDispute
from resolvers.hotline.types import UrgeTicket, ticket_by_id
from resolvers.loaders import Loaders
from resolvers.notifications.bulletins import Bulletin, bulletin_by_id
from resolvers.notifications.inbox import Notification, notification_by_id
from resolvers.planning.queries import import_by_id, production_plan_by_id, purchase_plan_by_id
from resolvers.planning.types import PlanImport, ProductionPlan, PurchasePlan
from resolvers.quality.types import Coil, Heat, ProcessingFeedback, QualityCertificate, Slab
from resolvers.relay import MAX_PAGE, BadInput, Node, from_global_id
from resolvers.settlements import Settlement
from resolvers.shipments.rejections import RejectedMessage, reads_rejections, rejection_by_id
from resolvers.shipments.types import Shipment
from resolvers.shipments.vehicles import Vehicle

if TYPE_CHECKING:
    from api.context import Viewer

# Every Node type: the loader that fetches it (within the viewer's scope) and its maker.
NODE_TYPES: dict[str, tuple[Callable[[Loaders], Any], Callable[[Any], Node]]] = {
    "Organization": (lambda x: x.organization_by_id, parties.Organization.of),
    "Site": (lambda x: x.site_by_id, parties.Site.of),
    "SteelSpec": (lambda x: x.spec_by_id, parties.SteelSpec.of),
    "Contract": (lambda x: x.contract_by_id, Contract.of),
    "ContractLine": (lambda x: x.line_by_id, ContractLine.of),
    "Heat": (lambda x: x.heat_by_id, Heat.of),
    "Slab": (lambda x: x.slab_by_id, Slab.of),
    "Coil": (lambda x: x.coil_by_id, Coil.of),
    "QualityCertificate": (lambda x: x.certificate_by_id, QualityCertificate.of),
    "ProcessingFeedback": (lambda x: x.feedback_by_id, ProcessingFeedback.of),
    "Settlement": (lambda x: x.settlement_by_id, Settlement.of),
    "Shipment": (lambda x: x.shipment_by_id, Shipment.of),
    "Vehicle": (lambda x: x.vehicle_by_id, Vehicle.of),
    "QualityDispute": (lambda x: x.dispute_by_id, QualityDispute.of),
    "Claim": (lambda x: x.claim_by_id, Claim.of),
    "DisputeEvidence": (lambda x: x.evidence_by_id, DisputeEvidence.of),
    "Notification": (notification_by_id, Notification.of),
    "Bulletin": (bulletin_by_id, Bulletin.of),
    "UrgeTicket": (ticket_by_id, UrgeTicket.of),
    "PurchasePlan": (purchase_plan_by_id, PurchasePlan.of),
    "ProductionPlan": (production_plan_by_id, ProductionPlan.of),
    "PlanImport": (import_by_id, PlanImport.of),
    "RejectedMessage": (rejection_by_id, RejectedMessage.of),
}

# Node types only some viewers may read, whatever their scope (roles are not part of it):
# to anyone else their ids read like ids that do not exist.
NODE_READERS: dict[str, Callable[[Viewer], bool]] = {
    "RejectedMessage": reads_rejections,
}


async def _load(info: Info[Any, Any], gid: str) -> Node | None:
    try:
        type_name, pk = from_global_id(gid)
    except BadInput:
        return None
    entry = NODE_TYPES.get(type_name)
    if entry is None:
        return None
    may_read = NODE_READERS.get(type_name)
    if may_read is not None and not may_read(await viewer(info)):
        return None
    loader, make = entry
    found = await loader(loaders(info)).load(pk)
    return make(found) if found is not None else None


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global id; null if unknown or not yours.")
    async def node(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="Global id.")],
    ) -> Node | None:
        await viewer(info)
        return await _load(info, id)

    @strawberry.field(description="Several objects by global id, in the order asked (at most 100).")
    async def nodes(
        self, info: Info[Any, Any],
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")],
    ) -> list[Node | None]:
        await viewer(info)
        if len(ids) > MAX_PAGE:
            raise BadInput(f"at most {MAX_PAGE} ids at once")
        return list(await asyncio.gather(*(_load(info, i) for i in ids)))

    @strawberry.field(name="viewer", description="The bearer of the token and its organization.")
    async def viewer_(self, info: Info[Any, Any]) -> parties.Viewer:
        who = await viewer(info)
        return parties.Viewer(
            subject=who.subject, roles=sorted(who.roles),
            organization=parties.Organization.of(who.organization),
            is_customer=who.is_customer,
        )
