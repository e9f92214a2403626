"""What the service area's writes and reads allow, and who may do it."""

from __future__ import annotations

from domain.actor import Permissions

# The mill's roles: every member of staff reads survey results and tiers; contribution
# figures are commercial, for sales, finance and admin.
STAFF = ("sales", "production", "quality", "logistics", "finance", "admin")
COMMERCIAL = ("sales", "finance", "admin")

PERMISSIONS = Permissions({
    # A customer's contact answers its organization's surveys; the mill does not.
    "answer_survey": ("customer",),
    "read_survey_results": STAFF,
    "read_tiers": STAFF,
    "read_contribution": COMMERCIAL,
    "recompute_tiers": COMMERCIAL,
    "set_tiers": ("admin",),
    "set_freight_rates": ("finance", "admin"),
})
