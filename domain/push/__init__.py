"""Push delivery's domain: rules and their matching, the inbox, webhook subscriptions and
their delivery log, bulletins, and the texts sent in the recipient's language."""
