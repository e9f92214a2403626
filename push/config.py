"""How the worker delivers: batch sizes, retries, timeouts, SMTP. Built from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from api.settings import Settings


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
    webhook_timeout_s: float = 10.0
    # A claimed delivery is left to its worker this long; after it, another may retry it.
    lease: timedelta = timedelta(minutes=2)
    # Longest sleep between looks for due retries and periodic jobs.
    tick_s: float = 1.0
    smtp_url: str | None = None
    smtp_from: str = "keylink@localhost"

    @classmethod
    def of(cls, settings: Settings) -> PushConfig:
        return cls(
            max_attempts=settings.push_max_attempts,
            retry_base=timedelta(seconds=settings.push_retry_base_s),
            webhook_timeout_s=float(settings.push_webhook_timeout_s),
            smtp_url=settings.smtp_url,
            smtp_from=settings.smtp_from,
        )

    def backoff(self, attempts: int) -> timedelta:
        """Wait before try ``attempts + 1``: the base doubled per try so far, capped."""
        wait: timedelta = min(self.retry_cap, self.retry_base * (2 ** max(0, attempts - 1)))
        return wait
