"""The read planner's forms of contracts, their lines and production progress (see
resolvers/forms.py)."""

from __future__ import annotations

from typing import Any

from domain.contracts import reads as contract_reads
from domain.tenancy import Where
from resolvers.contracts.queries import (
    ContractOrder,
    ContractOrderField,
    OrderDirection,
    _filter,
    _keyset,
)
from resolvers.contracts.types import (
    Contract,
    ContractLine,
    DateWindow,
    LineProgress,
    StageProgress,
)
from resolvers.forms import (
    Column,
    Join,
    NotPlanned,
    Pages,
    Planned,
    RootOne,
    RootPage,
    Rows,
    Same,
    columns,
)
from resolvers.relay import check_first, exactly_one, expect_id

PLANNED = {
    Contract: Planned("contract", {
        **columns("number", "status", "currency", "incoterm", "signed_on", "confirmed_at",
                  "sales_owner", "created_at", "updated_at"),
        "customer": Join("{c}.id = {t}.customer_org_id"),
        "lines": Rows("{c}.contract_id = {t}.id", "{c}.line_no"),
        "settlements": Rows("{c}.contract_id = {t}.id", "{c}.id"),
    }),
    ContractLine: Planned("contract_line", {
        **columns("line_no", "quantity_t", "unit_price", "transport_mode", "transit_days",
                  "firmness", "status", "shipped_t"),
        # Commercial rounding: numeric's round() takes 0.005 up, as the resolver does.
        "amount": Column("round({t}.quantity_t * {t}.unit_price, 2)"),
        "delivery_window": Same(),
        "contract": Join("{c}.id = {t}.contract_id"),
        "spec": Join("{c}.id = {t}.spec_id"),
        "delivery_site": Join("{c}.id = {t}.delivery_site_id"),
        "progress": Join("{c}.line_id = {t}.id"),
        "coils": Pages("{c}.line_id = {t}.id"),
    }),
    DateWindow: Planned(None, {"start": Column("delivery_from"),
                               "end": Column("delivery_to")}),
    LineProgress: Planned("contract_line_schedule", {
        **columns("current_stage", "stages_done", "stage_count", "share_done",
                  "planned_finish", "predicted_finish", "predicted_delivery", "late_days",
                  "is_late"),
        "stages": Rows("{c}.line_id = {t}.line_id", "{c}.seq"),
    }),
    StageProgress: Planned("production_stage_status", {
        **columns("stage", "planned_start", "planned_end", "actual_start", "actual_end",
                  "completed", "delay_days"),
        "planned_tonnes": Column("planned_t"),
        "actual_tonnes": Column("actual_t"),
    }),
}


def contracts_page(where: Where, args: dict[str, Any]) -> RootPage:
    """`contracts` in its default order (created, either direction); other orders are
    answered by the resolver."""
    first = check_first(args["first"])
    order = args.get("order_by") or ContractOrder()
    if order.field is not ContractOrderField.CREATED:
        raise NotPlanned("contracts ordered by another key")
    sort = contract_reads.ContractOrder.CREATED
    after = args.get("after")
    sql, ordering = contract_reads.contract_page(
        where, _filter(args.get("filter")), sort, order.direction is OrderDirection.DESC,
        first + 1, _keyset(sort, after), columns="c.*")
    return RootPage(sql, "c", ordering, ("c.id", "c.id"), first, after is not None)


def contract_one(where: Where, args: dict[str, Any]) -> RootOne:
    gid, number = args.get("id"), args.get("number")
    exactly_one(gid, number, "number")
    if gid is not None:
        return RootOne("contract", f"{{c}}.id = {where.arg(expect_id(gid, 'Contract'))}::bigint")
    return RootOne("contract", f"{{c}}.number = {where.arg(number)}::text")


ROOTS = {"contracts": contracts_page, "contract": contract_one}
