"""Records fed by the mill's own systems (ERP, MES, logistics): one format for every kind
of record a plant writes (organizations, sites, specs, vehicles, devices, heats, slabs,
coils with their genealogy, inspections, contracts with their lines, shipments with their
legs and manifests), applied as idempotent upserts by natural key and source version.

- records: the envelope of one record (kind, key, version, data or retire), parsed from
  one NDJSON line, and a rejection naming its line, field and reason
- fields: a kind's fields declared once: the JSON Schema integrators validate against,
  the conversion of each value, and the column it is written to
- kinds: every kind, its table, key, references and what it writes beyond its row
- apply: a chunk of records of one kind applied in bulk, versions checked, events queued
- batch: a whole file or request body, streamed: all-or-nothing or per record, dry runs,
  progress and the result kept in ``feed_batch``
- schema_files: each kind's JSON Schema written to ``schemas/`` and shipped in the package
"""
