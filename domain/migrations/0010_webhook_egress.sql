-- A delivery's last error is a short reason (`timeout`, `connection_refused`,
-- `address_not_allowed`, `http_503`, ...) that the customer may read, never a receiver's
-- answer. Errors recorded before held the first 200 characters of the answer: they are
-- reduced to their reason, and the column takes nothing else from now on.
UPDATE push_delivery SET last_error = CASE
    WHEN channel = 'email' THEN CASE
        WHEN last_error ~* 'e-mail is not configured|KEYLINK_SMTP_URL' THEN 'smtp_not_configured'
        WHEN last_error ~* 'RecipientsRefused' THEN 'recipient_refused'
        WHEN last_error ~* 'timeout' THEN 'timeout'
        ELSE 'smtp_error' END
    WHEN last_error ~ '^HTTP [0-9]{3}' THEN 'http_' || substring(last_error FROM 6 FOR 3)
    WHEN last_error ~* 'timeout' THEN 'timeout'
    WHEN last_error ~* 'refused' THEN 'connection_refused'
    WHEN last_error ~* 'ssl|certificate' THEN 'tls_error'
    WHEN last_error ~* '^(ConnectError|ConnectTimeout)' THEN 'connection_failed'
    WHEN last_error ~* 'protocol' THEN 'protocol_error'
    WHEN last_error ~* '^(ReadError|WriteError|NetworkError)' THEN 'connection_error'
    WHEN last_error ~* 'gone or disabled' THEN 'webhook_disabled'
    ELSE 'internal_error'
END
WHERE last_error IS NOT NULL AND last_error !~ '^[a-z0-9_]{1,40}$';

ALTER TABLE push_delivery ADD CONSTRAINT push_delivery_last_error_reason
    CHECK (last_error ~ '^[a-z0-9_]{1,40}$');
