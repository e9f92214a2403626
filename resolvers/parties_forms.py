"""The read planner's forms of organizations, sites and specs (see resolvers/forms.py)."""

from __future__ import annotations

from resolvers.forms import Join, Planned, columns
from resolvers.parties import Organization, Site, SteelSpec

PLANNED = {
    Organization: Planned("organization", columns("code", "name", "kind")),
    Site: Planned("site", {
        **columns("code", "name", "kind", "latitude", "longitude", "geofence_radius_m",
                  "time_zone"),
        "owner": Join("{c}.id = {t}.org_id"),
    }),
    SteelSpec: Planned("steel_spec", {
        **columns("code", "grade", "standard", "product", "thickness_mm", "width_mm",
                  "coating", "customer_part_number", "coil_nominal_weight_t",
                  "limits_revision", "limits_changed_at"),
    }),
}
