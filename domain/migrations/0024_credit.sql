-- Credit: each customer's limit as finance sets it, the payments received against its
-- settlements' invoices, and the confirmations held for finance's approval because they
-- would go beyond the customer's headroom.

-- One row per customer with a limit set. No row, or a NULL limit: no limit, no check.
CREATE TABLE customer_credit (
    customer_org_id bigint PRIMARY KEY REFERENCES organization (id),
    credit_limit    numeric(16, 2) CHECK (credit_limit >= 0),
    -- Whether the customer sees its own limit (and so its headroom).
    shown_to_customer boolean NOT NULL DEFAULT false,
    set_by          text NOT NULL,
    set_at          timestamptz NOT NULL DEFAULT now()
);

-- A payment received against a settlement's invoice; keyed by the reference the bank or
-- the mill's ERP gives it (the feeds' key of the `payment` kind).
CREATE TABLE payment (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference       text NOT NULL UNIQUE,
    settlement_id   bigint NOT NULL REFERENCES settlement (id),
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    amount          numeric(16, 2) NOT NULL CHECK (amount > 0),
    paid_on         date NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_settlement_idx ON payment (settlement_id);
CREATE INDEX payment_customer_idx ON payment (customer_org_id, paid_on);

-- A contract whose confirmation would go beyond its customer's headroom waits here, as a
-- draft, for finance: approved, it is confirmed; refused, it stays a draft.
CREATE TABLE credit_approval (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id     bigint NOT NULL REFERENCES contract (id),
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'refused')),
    -- The contract's value, and the limit and headroom it was held against.
    amount          numeric(16, 2) NOT NULL,
    credit_limit    numeric(16, 2) NOT NULL,
    headroom        numeric(16, 2) NOT NULL,
    requested_by    text NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      text,
    decided_at      timestamptz,
    note            text,
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX credit_approval_pending_idx ON credit_approval (contract_id)
    WHERE status = 'pending';
CREATE INDEX credit_approval_customer_idx ON credit_approval (customer_org_id, id);
CREATE INDEX credit_approval_status_idx ON credit_approval (status, id);

-- The overview's grouped reads: settlements by customer and invoice day.
CREATE INDEX settlement_customer_issued_idx ON settlement (customer_org_id, issued_on)
    WHERE issued_on IS NOT NULL;
