"""How the worker delivers: batch sizes, retries, timeouts, SMTP, where webhooks may go.
Built from Settings."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from domain.egress import EgressPolicy
from settings import Settings


@dataclass(frozen=True)
class PushConfig:
    match_batch: int = 500
    send_batch: int = 100
    concurrency: int = 32
    # Requests in flight (and kept-alive connections) per receiver; see push.sender.
    per_host: int = 4
    max_attempts: int = 10
    retry_base: timedelta = timedelta(seconds=10)
    retry_cap: timedelta = timedelta(hours=1)
    # The longest a receiver's `Retry-After` may put off the next try.
    retry_after_cap: timedelta = timedelta(hours=1)
    webhook_timeout_s: float = 10.0
    # A claimed delivery is left to its worker this long; after it, another may retry it.
    lease: timedelta = timedelta(minutes=2)
    # Longest sleep between looks for due retries and periodic jobs.
    tick_s: float = 1.0
    smtp_url: str | None = None
    smtp_from: str = "keylink@localhost"
    # Where webhooks may connect: public addresses over https unless configured.
    egress: EgressPolicy = field(default_factory=EgressPolicy)

    @classmethod
    def of(cls, settings: Settings) -> PushConfig:
        return cls(
            max_attempts=settings.push_max_attempts,
            retry_base=timedelta(seconds=settings.push_retry_base_s),
            webhook_timeout_s=float(settings.push_webhook_timeout_s),
            smtp_url=settings.smtp_url,
            smtp_from=settings.smtp_from,
            egress=EgressPolicy.of(settings.webhook_allow,
                                   production=not settings.development),
        )

    def backoff(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Wait before try ``attempts + 1``: the base doubled per try so far, capped, then
        drawn between half of that and all of it, so that deliveries that failed together
        (a receiver down) do not all come back together."""
        wait: timedelta = min(self.retry_cap, self.retry_base * (2 ** max(0, attempts - 1)))
        return wait * (rng or random).uniform(0.5, 1.0)

    def retry_after(self, header: str | None, now: datetime | None = None) -> timedelta | None:
        """A receiver's `Retry-After` (seconds, or an HTTP date) as a wait from ``now``,
        capped at ``retry_after_cap``; None when absent or unreadable."""
        if not header:
            return None
        text = header.strip()
        if text.isdigit():
            wait = timedelta(seconds=int(text))
        else:
            try:
                when = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            wait = when - (now or datetime.now(UTC))
        return max(timedelta(0), min(wait, self.retry_after_cap))

    def next_try(self, attempts: int, retry_after: str | None = None,
                 now: datetime | None = None) -> datetime:
        """When try ``attempts + 1`` is due: after the backoff, and no sooner than the
        receiver asked (`Retry-After`, capped)."""
        now = now or datetime.now(UTC)
        wait = self.backoff(attempts)
        asked = self.retry_after(retry_after, now)
        return now + (wait if asked is None else max(wait, asked))
