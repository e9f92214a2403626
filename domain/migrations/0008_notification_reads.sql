-- Who has read a notification addressed to a whole organization: each of its users
-- reads it for themselves (a notification for one user keeps its read time on its row).
-- Read times set on organization-wide rows before this table existed still count, for
-- everyone.
CREATE TABLE notification_read (
    notification_id bigint NOT NULL REFERENCES notification (id) ON DELETE CASCADE,
    subject         text NOT NULL,
    read_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (notification_id, subject)
);
