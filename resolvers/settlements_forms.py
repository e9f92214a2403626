"""The read planner's forms of settlements (see resolvers/forms.py)."""

from __future__ import annotations

from resolvers.forms import Column, Join, Planned, columns
from resolvers.settlements import Settlement

PLANNED = {
    Settlement: Planned("settlement", {
        **columns("number", "currency", "theoretical_weight_t", "actual_weight_t",
                  "unit_price", "goods_amount", "surcharges", "freight", "claim_deductions",
                  "total_amount", "invoice_status", "issued_on", "due_on", "paid_on"),
        "weight_difference_t": Column("{t}.actual_weight_t - {t}.theoretical_weight_t"),
        "contract": Join("{c}.id = {t}.contract_id"),
    }),
}
