"""Push delivery: the worker that follows the domain-event outbox, matches push rules and
delivers to the inbox, to webhooks (signed) and by e-mail, with retries and digests."""
