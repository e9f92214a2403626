"""Quality records of coils: the records and who may write them (model), how they are
read (reads), issuing certificates, setting a spec's limits and recording feedback
(writes), a certificate's canonical content and hash (certificates), and a spec's limits
with the check of certified values against them (limits).

The package re-exports the model, reads and writes, so that ``from domain import
quality`` reads as the one area it is."""

from domain.quality.model import (
    PERMISSIONS,
    Certificate,
    Inspection,
    ProcessingFeedback,
    SpecLimitsState,
)
from domain.quality.reads import (
    certificates_by_coil_ids,
    certificates_by_ids,
    contents_by_ids,
    feedback_by_coil_ids,
    feedback_by_ids,
    inspections_by_coil_ids,
    limits_by_certificate_ids,
    spec_limits_by_spec_ids,
)
from domain.quality.writes import (
    FEEDBACK_PROCESSES,
    FEEDBACK_RESULTS,
    MAX_NOTES,
    CertificateInput,
    issue_certificate,
    record_feedback,
    set_spec_limits,
)

__all__ = [
    "FEEDBACK_PROCESSES",
    "FEEDBACK_RESULTS",
    "MAX_NOTES",
    "PERMISSIONS",
    "Certificate",
    "CertificateInput",
    "Inspection",
    "ProcessingFeedback",
    "SpecLimitsState",
    "certificates_by_coil_ids",
    "certificates_by_ids",
    "contents_by_ids",
    "feedback_by_coil_ids",
    "feedback_by_ids",
    "inspections_by_coil_ids",
    "issue_certificate",
    "limits_by_certificate_ids",
    "record_feedback",
    "set_spec_limits",
    "spec_limits_by_spec_ids",
]
