"""The demo's named examples: objects with the same numbers on every seed and every day,
so that the README (and anyone following it) can name them.

Among FAW-VW's coils, the one with the most to show is chosen (a certificate,
inspections, the customer's processing feedback, a mother coil in its genealogy) and
numbered ``COIL``; its heat becomes ``HEAT`` (its slabs follow), its contract
``CONTRACT``. The numbers lie outside those the demo and the domain issue (serials below
the demo's first, a contract number the domain's counter does not read), so they never
clash with another object or push a counter. Certificates that quote a renamed coil or
heat are issued again with the new numbers, so their content hash still holds.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from domain.quality.certificates import content_hash

from .catalogue import FAW_VW
from .model import Coil

if TYPE_CHECKING:
    from .build import DemoData

CONTRACT = "BSC-DEMO-000001"
COIL = "BX26C0001234"
HEAT = "26H00042"


def name(data: DemoData) -> Coil | None:
    """Give the examples their numbers; returns the example coil (None when the demo has
    no FAW-VW coil at all, as with ``--contracts 0``)."""
    material = data.material
    certified = {c.coil.coil_no for c in data.certificates}
    inspected = {i.coil.coil_no for i in data.inspections}
    reported = {f.coil.coil_no for f in data.feedback}
    from_mother = {e.child.coil_no for e in material.edges if e.parent_coil is not None}
    candidates = [c for c in material.coils
                  if c.line is not None and c.line.contract is not None
                  and c.line.contract.customer.code == FAW_VW]
    if not candidates:
        return None

    def shows(c: Coil) -> tuple[int, str]:
        score = sum((c.coil_no in certified, c.coil_no in inspected, c.coil_no in reported,
                     c.coil_no in from_mother, c.shipped))
        return (-score, c.coil_no)

    coil = min(candidates, key=shows)
    heat = coil.heat
    coil.coil_no = COIL
    heat.heat_no = HEAT
    for j, slab in enumerate(heat.slabs, start=1):
        slab.slab_no = f"{HEAT}{j:02d}"
    assert coil.line is not None and coil.line.contract is not None
    coil.line.contract.number = CONTRACT
    for i, cert in enumerate(data.certificates):
        if cert.coil is not coil and cert.coil.heat is not heat:
            continue
        content = {**cert.content, "product": {**cert.content["product"], "heat_no": HEAT,
                                               "coil_no": cert.coil.coil_no}}
        cert_no = cert.cert_no
        if cert.coil is coil:
            cert_no = f"QC-{COIL}"
            content["document"] = {**content["document"], "cert_no": cert_no}
        data.certificates[i] = dataclasses.replace(cert, cert_no=cert_no, content=content,
                                                   content_hash=content_hash(content))
    return coil
