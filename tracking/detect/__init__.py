"""Detection: what stored fixes and scans mean for sites, legs, coils and customers.

``Detector.on_batch`` runs inside the ingester's batch transaction; each finding is
recorded once (by its dedupe key) in ``shipment_event`` and the domain-event outbox, and
returned for live publication after commit. A departure also moves the contracts whose
coils left (``domain.shipments.shipping``).

- movement: fence presence (dwell-confirmed), departures and arrivals
- timing: ETA and delay per moving leg, arrivals never unloaded
- custody: coil locations from scans, scan-proven leg progress, scan anomalies
"""

from tracking.detect.detector import Detector
from tracking.detect.model import DetectedEvent, StoredFix, StoredScan

__all__ = ["DetectedEvent", "Detector", "StoredFix", "StoredScan"]
