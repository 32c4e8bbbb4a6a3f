"""Where retries are decided: the retry policy as data, run by ``stamina``.

Three questions, three fields:

* *which operations may be repeated at all* — ``SAFE_TO_REPEAT``, transcribed from the contract's
  "Which calls are safe to repeat" table (reference §9);
* *which failures are worth repeating* — ``RetryPolicy.retry_statuses`` (429 and 5xx) and
  ``RetryPolicy.transport_errors`` (connect errors, every timeout, read/write errors, and
  ``RemoteProtocolError``, which is how a connection closed without a response arrives);
  other 4xx never are. ``RetryPolicy.unsent_errors`` are the transport failures that prove the
  request never left (no connection was made), so even a not-blindly-repeatable call is sent
  again after them;
* *how long to wait* — the server's ``retry_after_ms``, then ``Retry-After``, else capped
  exponential backoff with full jitter; ``max_total_wait`` bounds the sleeping of one call, after
  which the call fails with the last error.

>>> RetryPolicy().should_retry("enrich_list", 503, transport=False, has_idempotency_key=False)
False
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

__all__ = [
    "DEFAULT_TRANSPORT_ERRORS",
    "DEFAULT_UNSENT_ERRORS",
    "SAFE_TO_REPEAT",
    "Repeat",
    "RetryPolicy",
]


class Repeat(enum.Enum):
    """How safe it is to send an operation again when its outcome is unknown."""

    #: Idempotent by nature: repeat after 429, 5xx and transport failures.
    SAFE = "safe"
    #: Safe only because an ``idempotency_key`` is sent (the client always sends one).
    WITH_KEY = "with_key"
    #: Not blindly: a repeat may dispatch twice (or fail on the single-use quote). Only a 429 —
    #: the server refused before doing anything — or a failure to connect is repeated; after
    #: any other transport error or a 5xx the caller must look the workflow up first.
    NOT_BLINDLY = "not_blindly"


#: The contract's §9 table, by client operation name.
SAFE_TO_REPEAT: Mapping[str, Repeat] = MappingProxyType(
    {
        "list_lists": Repeat.SAFE,
        "get_list": Repeat.SAFE,
        "list_leads": Repeat.SAFE,
        "enrichment_status": Repeat.SAFE,
        "credits_balance": Repeat.SAFE,
        "whoami": Repeat.SAFE,
        "validate_key": Repeat.SAFE,
        "create_list": Repeat.SAFE,  # idempotent on name: a repeat answers 200 reused=true
        "estimate_cost": Repeat.SAFE,  # free; the new quote replaces the old
        "remove_leads": Repeat.SAFE,  # removing what is gone is a no-op
        "update_list": Repeat.SAFE,  # present-field semantics: a repeat is a no-op
        "delete_list": Repeat.SAFE,  # a 404 on the repeat means "already deleted"
        "csv_import": Repeat.WITH_KEY,
        "add_leads": Repeat.WITH_KEY,
        "enrich_list": Repeat.NOT_BLINDLY,
        "enrich_by_task": Repeat.NOT_BLINDLY,
    }
)

DEFAULT_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.TimeoutException,  # ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,  # server closed the connection without sending a response
)

#: Failures before any byte of the request was sent: no connection (or no pooled one) was had.
#: A write or read error on a kept-alive connection is *not* here: the request may have landed.
DEFAULT_UNSENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry settings for one client; every field is plain data.

    ``max_attempts`` counts the first try. ``max_total_wait`` caps the seconds slept between
    attempts of one call; a server hint longer than what is left fails the call at once.
    """

    max_attempts: int = 6
    max_total_wait: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    #: Statuses repeated even for ``Repeat.NOT_BLINDLY`` operations (the server did nothing).
    refused_statuses: frozenset[int] = frozenset({429})
    transport_errors: tuple[type[Exception], ...] = DEFAULT_TRANSPORT_ERRORS
    #: Transport errors repeated even for ``Repeat.NOT_BLINDLY`` operations (nothing was sent).
    unsent_errors: tuple[type[Exception], ...] = DEFAULT_UNSENT_ERRORS
    operations: Mapping[str, Repeat] = field(default_factory=lambda: SAFE_TO_REPEAT)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_total_wait < 0 or self.backoff_initial < 0 or self.backoff_max < 0:
            raise ValueError("retry waits must not be negative")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries (one attempt per call)."""
        return cls(max_attempts=1)

    def repeat_class(self, operation: str) -> Repeat:
        """How safe ``operation`` is to repeat; unknown operations are treated as unsafe."""
        return self.operations.get(operation, Repeat.NOT_BLINDLY)

    def should_retry(
        self,
        operation: str,
        status: int | None,
        *,
        transport: bool,
        has_idempotency_key: bool,
        unsent: bool = False,
    ) -> bool:
        """Whether a failed attempt is worth repeating (ignoring attempt and time budgets).

        ``status`` is the HTTP status, or None when no answer came (``transport`` says whether
        that failure is one of ``transport_errors``, ``unsent`` whether it proves the request
        never left).
        """
        repeat = self.repeat_class(operation)
        if repeat is Repeat.WITH_KEY and not has_idempotency_key:
            repeat = Repeat.NOT_BLINDLY
        if status is None:
            return transport and (unsent or repeat is not Repeat.NOT_BLINDLY)
        if repeat is Repeat.NOT_BLINDLY:
            return status in self.refused_statuses
        return status in self.retry_statuses

    def is_transport_error(self, exc: BaseException) -> bool:
        """Whether an httpx exception is a transport failure worth retrying."""
        return isinstance(exc, self.transport_errors)

    def is_unsent_error(self, exc: BaseException) -> bool:
        """Whether an httpx exception proves the request was never sent (safe for any call)."""
        return isinstance(exc, self.unsent_errors)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter exponential backoff before retry number ``attempt`` (1-based).

        >>> 0 <= RetryPolicy(backoff_initial=1, backoff_max=4).backoff(10) <= 4
        True
        """
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** max(attempt - 1, 0)))
        return (rng or random).uniform(0, ceiling)

    def wait_before_retry(
        self, attempt: int, server_hint: float | None, rng: random.Random | None = None
    ) -> float:
        """Seconds to sleep before the next attempt: the server's hint wins over backoff."""
        if server_hint is not None:
            return max(server_hint, 0.0)
        return self.backoff(attempt, rng)
