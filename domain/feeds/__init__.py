"""Records fed by the mill's own systems (ERP, MES, logistics): one format for every kind
of record a plant writes (organizations, sites, specs, vehicles, devices, heats, slabs,
coils with their genealogy, inspections, contracts with their lines, shipments with their
legs and manifests), applied as idempotent upserts by natural key and source version.

- records: the envelope of one record (kind, key, version, data or retire), parsed from
  one NDJSON line, and a rejection naming its line, field and reason
- fields: a kind's fields declared once: the JSON Schema integrators validate against,
  the conversion of each value, and the column it is written to
- kind: what every kind shares: its data checked and converted, references resolved in
  bulk, rows upserted by key in one statement per chunk, retiring, its events
- kinds: every kind, its table, key, references and what it writes beyond its row
- batch: a whole file or request body, streamed in chunks of one kind: versions checked,
  all-or-nothing or per record, dry runs, progress and the result kept in
  ``feed_batch``, events queued and appended at the end; and one record written by hand
- schema_files: each kind's JSON Schema written to ``schemas/`` and shipped in the package
"""
