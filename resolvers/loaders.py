"""Per-request DataLoaders: one batched statement per (thing, key) however many rows ask.

Loaders are named ``<thing>_by_<key>``. Each is built for one request and one viewer, so
batching never mixes what two organizations may see, and the cache dies with the request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from domain import (
    claims,
    containment,
    contracts,
    dispute_reads,
    disputes,
    evidence,
    material,
    parties,
    position_reads,
    production,
    quality,
    settlements,
    shipment_reads,
)
from domain.db import Executor
from domain.planning import inputs, plans
from domain.tenancy import Scope

K = TypeVar("K")
V = TypeVar("V")

Fetch = Callable[[Executor, Scope, Sequence[Any]], Awaitable[Any]]


class Loaders:
    def __init__(self, db: Executor, scope: Scope, redis: Any = None,
                 subject: str | None = None, own_org_id: int | None = None) -> None:
        self.db = db
        self.scope = scope
        # The viewer's user and its own organization (the mill's, for staff): what is
        # addressed to one user (the inbox) is fenced by them, not by the scope alone.
        self.subject = subject
        self.own_org_id = own_org_id
        # Live state (latest fixes); None reads positions from the database alone.
        self.redis = redis
        self.organization_by_id = self._by_id(parties.organizations_by_ids)
        self.site_by_id = self._by_id(parties.sites_by_ids)
        self.spec_by_id = self._by_id(parties.specs_by_ids)
        self.contract_by_id = self._by_id(contracts.contracts_by_ids)
        self.contract_by_number = self._by_attr(contracts.contracts_by_numbers, "number")
        self.line_by_id = self._by_id(contracts.lines_by_ids)
        self.lines_by_contract = self._grouped(contracts.lines_by_contract_ids, [])
        self.progress_by_line = self._grouped(production.progress_by_line_ids, None)
        self.heat_by_id = self._by_id(material.heats_by_ids)
        self.heat_by_number = self._by_attr(material.heats_by_numbers, "heat_no")
        self.slab_by_id = self._by_id(material.slabs_by_ids)
        self.coil_by_id = self._by_id(material.coils_by_ids)
        self.coil_by_number = self._by_attr(material.coils_by_numbers, "coil_no")
        self.certificate_by_id = self._by_id(quality.certificates_by_ids)
        self.certificate_by_coil = self._grouped(quality.certificates_by_coil_ids, None)
        self.certificate_content_by_id = self._grouped(quality.contents_by_ids, None)
        self.inspections_by_coil = self._grouped(quality.inspections_by_coil_ids, [])
        self.feedback_by_id = self._by_id(quality.feedback_by_ids)
        self.feedback_by_coil = self._grouped(quality.feedback_by_coil_ids, [])
        self.settlement_by_id = self._by_id(settlements.settlements_by_ids)
        self.settlements_by_contract = self._grouped(
            settlements.settlements_by_contract_ids, []
        )
        self.ancestry_by_coil = DataLoader(self._ancestry)
        self.descendants_by_coil = self._grouped(material.descendants, [])
        # Keys: (parent id, page size + 1, after coil id).
        self.coil_page_by_line = DataLoader(self._coil_pages("line_id"))
        self.coil_page_by_heat = DataLoader(self._coil_pages("heat_id"))
        self._tracking()
        self._disputes()
        self._planning()

    def _disputes(self) -> None:
        self.dispute_by_id = self._by_id(disputes.disputes_by_ids)
        self.dispute_by_number = self._by_attr(disputes.disputes_by_numbers, "number")
        self.dispute_page_by_coil = DataLoader(self._pages(dispute_reads.dispute_pages_by_coil))
        self.suspect_page_by_dispute = DataLoader(self._pages(containment.suspect_pages))
        self.timeline_by_dispute = self._grouped(disputes.timeline, [])
        self.claim_by_id = self._by_id(claims.claims_by_ids)
        self.claims_by_dispute = self._grouped(claims.claims_by_dispute_ids, [])
        self.claims_by_settlement = self._grouped(claims.claims_by_settlement_ids, [])
        self.evidence_by_id = self._by_id(evidence.evidence_by_ids)
        self.evidence_by_dispute = self._grouped(evidence.evidence_by_dispute_ids, [])

    def _planning(self) -> None:
        self.plan_lines_by_purchase_plan = self._grouped(plans.lines_of, [])
        self.plan_changes_by_purchase_plan = self._grouped(plans.changes_by_plans, [])
        self.production_plan_by_id = self._by_id(inputs.plans_in_scope)
        self.plan_entries_by_production_plan = self._grouped(inputs.entries_by_plans, [])
        self.current_production_plan_by_customer = self._grouped(inputs.current_plans, None)

    def _tracking(self) -> None:
        self.shipment_by_id = self._by_id(shipment_reads.shipments_by_ids)
        self.shipment_by_number = self._by_attr(shipment_reads.shipments_by_numbers, "number")
        self.shipment_by_coil = self._grouped(shipment_reads.latest_shipment_by_coil, None)
        self.customers_by_shipment = self._grouped(shipment_reads.customers_by_shipment, [])
        self.legs_by_shipment = self._grouped(shipment_reads.legs_by_shipment, [])
        self.leg_by_id = self._by_id(shipment_reads.legs_by_ids)
        self.vehicle_by_id = self._by_id(position_reads.vehicles_by_ids)
        self.vehicle_by_code = self._by_attr(position_reads.vehicles_by_codes, "code")
        self.location_by_coil = self._grouped(shipment_reads.coil_locations, None)
        self.fix_by_vehicle = DataLoader(self._live(position_reads.latest_fixes))
        self.fix_by_shipment = DataLoader(self._live(position_reads.shipment_fixes))
        # Keys: (parent id, page size + 1, keyset after which the page starts).
        self.manifest_page_by_leg = DataLoader(self._pages(
            lambda db, scope, ids, n, after: shipment_reads.manifest_pages(
                db, scope, "leg", ids, n, after)))
        self.manifest_page_by_shipment = DataLoader(self._pages(
            lambda db, scope, ids, n, after: shipment_reads.manifest_pages(
                db, scope, "shipment", ids, n, after)))
        self.shipment_page_by_contract = DataLoader(
            self._pages(shipment_reads.shipment_pages_by_contract))
        self.event_page_by_shipment = DataLoader(self._pages(shipment_reads.event_pages))
        # Keys: (shipment id, most points, (from, to)), paged like the rest.
        self.track_by_shipment = DataLoader(self._pages(
            lambda db, scope, ids, points, period: position_reads.tracks(
                db, scope, ids, period[0], period[1], points)))

    def _live(self, fetch: Callable[..., Awaitable[dict[int, Any]]]) -> Any:
        async def load(keys: Sequence[int]) -> list[Any]:
            found = await fetch(self.db, self.redis, self.scope, keys)
            return [found.get(k) for k in keys]

        return load

    def _pages(self, fetch: Callable[..., Awaitable[dict[int, list[Any]]]]) -> Any:
        async def load(keys: Sequence[tuple[int, int, Any]]) -> list[Any]:
            # One statement per distinct page shape, as for coil pages.
            shapes: dict[tuple[int, Any], list[int]] = defaultdict(list)
            for parent, limit, after in keys:
                shapes[(limit, after)].append(parent)
            pages: dict[tuple[int, int, Any], Any] = {}
            for (limit, after), parents in shapes.items():
                found = await fetch(self.db, self.scope, parents, limit, after)
                for parent in parents:
                    pages[(parent, limit, after)] = found.get(parent, [])
            return [pages[k] for k in keys]

        return load

    def _by_id(self, fetch: Fetch) -> DataLoader[int, Any]:
        return self._by_attr(fetch, "id")

    def _by_attr(self, fetch: Fetch, attr: str) -> DataLoader[Any, Any]:
        async def load(keys: Sequence[Any]) -> list[Any]:
            found = {getattr(obj, attr): obj for obj in await fetch(self.db, self.scope, keys)}
            return [found.get(k) for k in keys]

        return DataLoader(load)

    def _grouped(self, fetch: Fetch, missing: Any) -> DataLoader[int, Any]:
        async def load(keys: Sequence[int]) -> list[Any]:
            found = await fetch(self.db, self.scope, keys)
            return [found.get(k, missing) for k in keys]

        return DataLoader(load)

    async def _ancestry(self, keys: Sequence[int]) -> list[Any]:
        found = await material.ancestry(self.db, keys)
        return [found.get(k, []) for k in keys]

    def _coil_pages(
        self, column: str
    ) -> Callable[[Sequence[tuple[int, int, int | None]]], Awaitable[list[Any]]]:
        async def load(keys: Sequence[tuple[int, int, int | None]]) -> list[Any]:
            # One statement per distinct page shape; a page of lines shares one shape.
            shapes: dict[tuple[int, int | None], list[int]] = defaultdict(list)
            for parent, limit, after in keys:
                shapes[(limit, after)].append(parent)
            pages: dict[tuple[int, int, int | None], Any] = {}
            for (limit, after), parents in shapes.items():
                found = await material.coil_pages(
                    self.db, self.scope, column, parents, limit, after
                )
                for parent in parents:
                    pages[(parent, limit, after)] = found.get(parent, [])
            return [pages[k] for k in keys]

        return load
