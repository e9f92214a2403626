-- Acknowledgements of the documents the platform sends: a partner's CONTRL or APERAK names
-- the interchange (UNB 0020) and message (UNH 0062) it answers, so each outbound EDIFACT
-- document keeps the references it was written with; a partner that sends no other
-- document registers an address for its acknowledgements.

ALTER TABLE exchange_address DROP CONSTRAINT exchange_address_document_type_check;
ALTER TABLE exchange_address ADD CONSTRAINT exchange_address_document_type_check
    CHECK (document_type IN ('order_response', 'dispatch_advice', 'invoice', 'certificate',
                             'contract', 'delivery_schedule', 'receiving_advice',
                             'acknowledgement'));

ALTER TABLE exchange_document
    ADD COLUMN interchange_ref text CHECK (length(interchange_ref) <= 14),
    ADD COLUMN message_ref text CHECK (length(message_ref) <= 14);

-- Documents written so far carried their event's sequence number as both references.
UPDATE exchange_document SET interchange_ref = right(event_seq::text, 14),
                             message_ref = right(event_seq::text, 14)
-- (a document that could not be written is kept as its reason, in plain text).
WHERE direction = 'out' AND format = 'edifact' AND event_seq IS NOT NULL
  AND content_type = 'application/EDIFACT';

CREATE INDEX exchange_document_interchange_idx ON exchange_document (org_id, interchange_ref)
    WHERE direction = 'out' AND interchange_ref IS NOT NULL;
CREATE INDEX exchange_document_message_idx ON exchange_document (org_id, message_ref)
    WHERE direction = 'out' AND message_ref IS NOT NULL;
