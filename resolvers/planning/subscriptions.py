"""A plan file's import followed live: its state on subscribing, then each change of its
progress, until it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.planning import imports
from resolvers.common import ctx, viewer
from resolvers.planning.types import PlanImport, PlanImportStatus
from resolvers.relay import BadInput, expect_id

# How often a subscriber's import row is read while it runs. The row lives in
# PostgreSQL, so any replica serves the subscriber, whichever one runs the import.
IMPORT_POLL_SECONDS = 0.25


@strawberry.type
class PlanningSubscriptions:
    @strawberry.subscription(
        description="An import of a plan file as it runs: its state at once, then again "
        "each time `rowsDone` or `status` changes; the stream ends once the import is "
        "IMPORTED or FAILED (the last message carries every bad row).")
    async def plan_import(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID, strawberry.argument(
            description="Global id of the PlanImport, from `importPlanFile`.")],
    ) -> AsyncGenerator[PlanImport, None]:
        who = await viewer(info)
        pk = expect_id(id, "PlanImport")
        db = ctx(info).db
        seen: tuple[Any, ...] | None = None
        while True:
            who.check_unexpired()
            found = await imports.imports_by_ids(db, who.scope.org_id, [pk])
            if not found:
                raise BadInput("no such plan import")
            state = (found[0].status, found[0].rows_done, found[0].rows_total)
            if state != seen:
                seen = state
                node = PlanImport.of(found[0])
                yield node
                if node.status is not PlanImportStatus.RUNNING:
                    return
            await asyncio.sleep(IMPORT_POLL_SECONDS)
