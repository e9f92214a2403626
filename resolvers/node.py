"""`node`, `nodes` and `viewer`: fetch any object by global id, and ask who you are."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.customers import reads as customer_reads
from domain.shipments import devices, rejections
from resolvers import parties
from resolvers.common import ctx, loaders, viewer
from resolvers.contracts.loaders import ContractByIdLoader, LineByIdLoader, SettlementByIdLoader
from resolvers.contracts.types import Contract, ContractLine
from resolvers.customers.loaders import CreditApprovalByIdLoader, PaymentByIdLoader
from resolvers.customers.types import CreditApproval, Payment
from resolvers.disputes.loaders import ClaimByIdLoader, DisputeByIdLoader, EvidenceByIdLoader
from resolvers.disputes.types import Claim, DisputeEvidence, QualityDispute
from resolvers.hotline.loaders import TicketByIdLoader
from resolvers.hotline.types import UrgeTicket
from resolvers.loaders import Loader, OrganizationByIdLoader, SiteByIdLoader, SpecByIdLoader
from resolvers.notifications.bulletins import Bulletin
from resolvers.notifications.inbox import Notification
from resolvers.notifications.loaders import BulletinByIdLoader, NotificationByIdLoader
from resolvers.planning.loaders import (
    PlanImportByIdLoader,
    ProductionPlanByIdLoader,
    PurchasePlanByIdLoader,
)
from resolvers.planning.types import PlanImport, ProductionPlan, PurchasePlan
from resolvers.quality.loaders import (
    CertificateByIdLoader,
    CoilByIdLoader,
    FeedbackByIdLoader,
    HeatByIdLoader,
    SlabByIdLoader,
)
from resolvers.quality.types import Coil, Heat, ProcessingFeedback, QualityCertificate, Slab
from resolvers.relay import MAX_PAGE, BadInput, Node, from_global_id
from resolvers.settlements import Settlement
from resolvers.shipments.devices import Device
from resolvers.shipments.loaders import (
    DeviceByIdLoader,
    RejectionByIdLoader,
    ShipmentByIdLoader,
    VehicleByIdLoader,
)
from resolvers.shipments.rejections import RejectedMessage
from resolvers.shipments.types import Shipment
from resolvers.shipments.vehicles import Vehicle

if TYPE_CHECKING:
    pass

# Every Node type: the loader that fetches it (within the viewer's scope) and its maker.
NODE_TYPES: dict[str, tuple[type[Loader[int, Any]], Callable[[Any], Node]]] = {
    "Organization": (OrganizationByIdLoader, parties.Organization.of),
    "Site": (SiteByIdLoader, parties.Site.of),
    "SteelSpec": (SpecByIdLoader, parties.SteelSpec.of),
    "Contract": (ContractByIdLoader, Contract.of),
    "ContractLine": (LineByIdLoader, ContractLine.of),
    "Heat": (HeatByIdLoader, Heat.of),
    "Slab": (SlabByIdLoader, Slab.of),
    "Coil": (CoilByIdLoader, Coil.of),
    "QualityCertificate": (CertificateByIdLoader, QualityCertificate.of),
    "ProcessingFeedback": (FeedbackByIdLoader, ProcessingFeedback.of),
    "Settlement": (SettlementByIdLoader, Settlement.of),
    "Shipment": (ShipmentByIdLoader, Shipment.of),
    "Vehicle": (VehicleByIdLoader, Vehicle.of),
    "QualityDispute": (DisputeByIdLoader, QualityDispute.of),
    "Claim": (ClaimByIdLoader, Claim.of),
    "DisputeEvidence": (EvidenceByIdLoader, DisputeEvidence.of),
    # Fenced like the inbox, by the viewer's user and organization.
    "Notification": (NotificationByIdLoader, Notification.of),
    # Open to every viewer.
    "Bulletin": (BulletinByIdLoader, Bulletin.of),
    "UrgeTicket": (TicketByIdLoader, UrgeTicket.of),
    "PurchasePlan": (PurchasePlanByIdLoader, PurchasePlan.of),
    "ProductionPlan": (ProductionPlanByIdLoader, ProductionPlan.of),
    "PlanImport": (PlanImportByIdLoader, PlanImport.of),
    # Only the viewers of NODE_READERS reach it, and a customer's scope finds none.
    "RejectedMessage": (RejectionByIdLoader, RejectedMessage.of),
    # Likewise.
    "Device": (DeviceByIdLoader, Device.of),
    # Likewise: finance, sales and admins.
    "CreditApproval": (CreditApprovalByIdLoader, CreditApproval.of),
    "Payment": (PaymentByIdLoader, Payment.of),
}

# Node types only some viewers may read, whatever their scope (roles are not part of it):
# to anyone else their ids read like ids that do not exist.
NODE_READERS: dict[str, Callable[[Actor], bool]] = {
    "RejectedMessage": rejections.reads_rejections,
    "Device": lambda actor: devices.PERMISSIONS.allows(actor, "list"),
    "CreditApproval": customer_reads.reads_approvals,
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
    if may_read is not None and not may_read(await ctx(info).actor()):
        return None
    loader, make = entry
    found = await loaders(info).get(loader).load(pk)
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
