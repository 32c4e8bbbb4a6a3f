"""The one request path under ``CleanlistClient``: connection, auth, rate limit, retries, logging.

Every call goes through ``_call``: take a rate-limit slot, send, log the attempt (method, path,
status, request_id, latency — never bodies or the key), map an HTTP error to the exception tree in
``errors.py``, and let ``retry.py``'s policy decide whether to try again. The operations
themselves (one method per endpoint) are in ``client.py``.

Answers are read as a stream and refused past :data:`MAX_RESPONSE_BYTES` (a client policy, not an
API fact: the largest documented answer, a 500-lead page, is around a megabyte), so a broken or
hostile server cannot make a step hold gigabytes. Every way a successful body can fail to decode
(too large, bad UTF-8, not JSON, nested past the decoder's depth, not an object) is one
``ResponseShapeError`` naming the status and route, never the body.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar

import httpx
import orjson
import stamina

from cleanlist_pipeline.api.errors import (
    APIError,
    ConfigurationError,
    OutcomeUnknownError,
    ResponseShapeError,
    TransportError,
    error_from_response,
)
from cleanlist_pipeline.api.models import Model
from cleanlist_pipeline.api.ratelimit import RateLimitConfig, RateLimiter, key_fingerprint
from cleanlist_pipeline.api.retry import Repeat, RetryPolicy
from cleanlist_pipeline.api.urls import path_only, split_base_url
from cleanlist_pipeline.contract import AUTH_HEADER, DEFAULT_BASE_URL

__all__ = ["MAX_RESPONSE_BYTES", "ApiTransport", "default_user_agent"]

#: Largest answer body read (after content decoding), in bytes. Well above the largest real
#: answer (a full page of 500 enriched leads is ~1 MiB); a bigger body is refused with
#: ``ResponseShapeError`` instead of being held in memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024

_M = TypeVar("_M", bound=Model)
_DEFAULT_RATE_LIMIT = RateLimitConfig()
_DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@functools.cache
def default_user_agent() -> str:
    """``cleanlist-pipeline/<version>`` (looked up once, on the first client, not at import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"cleanlist-pipeline/{version('cleanlist-pipeline')}"
    except PackageNotFoundError:  # running from a source tree without metadata
        return "cleanlist-pipeline"


class ApiTransport:
    """An authenticated connection to one API origin with its rate limiter and retry policy.

    ``CleanlistClient`` adds the operations; see it for the constructor's arguments.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float | httpx.Timeout = _DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimitConfig | None = _DEFAULT_RATE_LIMIT,
        idempotency_namespace: str = "default",
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str | None = None,
        close_on_exit: bool = True,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(
                "A Cleanlist API key is required (set CLEANLIST_API_KEY, or use the embedded "
                "sandbox by leaving it unset in the Dagster resource)."
            )
        self.__key = api_key.strip()
        self.key_fingerprint = key_fingerprint(self.__key)
        self.origin, self.prefix = split_base_url(base_url)
        self.base_url = self.origin + self.prefix
        self.retry = retry or RetryPolicy()
        if max_response_bytes < 1:
            raise ConfigurationError("max_response_bytes must be at least 1")
        self.max_response_bytes = max_response_bytes
        self.idempotency_namespace = idempotency_namespace
        self._log: logging.Logger | logging.LoggerAdapter[Any] = logger or logging.getLogger(
            "cleanlist_pipeline.api"
        )
        self._http = httpx.Client(
            base_url=self.origin,
            headers={
                AUTH_HEADER: f"Bearer {self.__key}",
                "Accept": "application/json",
                "User-Agent": user_agent or default_user_agent(),
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # a redirect could carry the Authorization header elsewhere
        )
        self.limiter: RateLimiter | None = (
            RateLimiter(rate_limit, self.__key) if rate_limit is not None else None
        )
        self._closed = False
        #: False for a client shared by a whole Dagster run: a ``with`` block then leaves it
        #: open for the next step code, and the resource closes it at teardown.
        self.close_on_exit = close_on_exit

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.close_on_exit:
            self.close()

    @property
    def closed(self) -> bool:
        """True once ``close()`` ran; calls then raise ``RuntimeError``."""
        return self._closed

    def close(self) -> None:
        """Close the HTTP connection pool and the rate limiter's database connection."""
        if self._closed:
            return
        self._closed = True
        self._http.close()
        if self.limiter is not None:
            self.limiter.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, key_id={self.key_fingerprint!r})"

    def try_acquire(self) -> bool:
        """Take one rate-limit slot without waiting (for sensors with a per-tick budget).

        A ``True`` answer means a slot was *consumed*; the next call still takes its own slot,
        so use this to decide whether to make a call this tick, not instead of the call.
        """
        return True if self.limiter is None else self.limiter.try_acquire()

    # --- the one request path ------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        has_idempotency_key: bool = False,
        hint: Mapping[str, str] | None = None,
        fast_decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send one logical call with rate limiting and the retry policy; return decoded JSON.

        ``fast_decode(body)`` of a successful answer is returned instead when it is not None
        (e.g. a page parsed straight to Arrow); None means "decode as usual", errors included.
        """
        if self._closed:
            raise RuntimeError(
                "this CleanlistClient is closed (its `with` block or the Dagster run ended); "
                "get a new one from CleanlistResource.get_client()"
            )
        policy = self.retry
        failures = 0
        slept = 0.0
        # Whether an attempt so far may have run on the server (a 5xx, or a sent request whose
        # answer was lost); a 404 from the repeat of a DELETE only means "gone" after one.
        maybe_ran = False

        def decide(exc: Exception) -> bool | float:
            nonlocal failures, slept, maybe_ran
            failures += 1
            if isinstance(exc, APIError):
                status, transport, unsent, server_hint = exc.status, False, False, exc.retry_after
            elif isinstance(exc, TransportError) and not isinstance(exc, OutcomeUnknownError):
                status, server_hint = None, None
                cause = exc.__cause__ or exc
                transport = policy.is_transport_error(cause)
                unsent = policy.is_unsent_error(cause)
            else:
                return False
            if not policy.should_retry(
                operation,
                status,
                transport=transport,
                has_idempotency_key=has_idempotency_key,
                unsent=unsent,
            ):
                return False
            wait = policy.wait_before_retry(failures, server_hint)
            if slept + wait > policy.max_total_wait:
                self._log.warning(
                    "%s %s: giving up after %d attempt(s); the next wait (%.1fs) would exceed "
                    "the total retry wait cap (%.0fs)",
                    method,
                    path_only(path),
                    failures,
                    wait,
                    policy.max_total_wait,
                )
                return False
            if failures >= policy.max_attempts:
                self._log.warning(
                    "%s %s: giving up after %d attempts", method, path_only(path), failures
                )
                return False
            slept += wait
            if status is None:
                maybe_ran = maybe_ran or not unsent
            else:
                maybe_ran = maybe_ran or status not in policy.refused_statuses
            self._log.info(
                "%s %s: retrying in %.2fs (attempt %d of %d failed: %s)",
                method,
                path_only(path),
                wait,
                failures,
                policy.max_attempts,
                exc.status if isinstance(exc, APIError) else exc.cause_type,  # type: ignore[attr-defined]
            )
            return wait

        for attempt in stamina.retry_context(on=decide, attempts=policy.max_attempts, timeout=None):
            with attempt:
                try:
                    return self._send_once(
                        operation, method, path, params, body, hint, failures + 1, fast_decode
                    )
                except APIError as err:
                    err.after_uncertain_attempt = maybe_ran
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        hint: Mapping[str, str] | None,
        attempt: int,
        fast_decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        if self.limiter is not None:
            waited = self.limiter.acquire()
            if waited > 1.0:
                self._log.info(
                    "%s %s: waited %.1fs for a rate-limit slot", method, path_only(path), waited
                )
        started = time.perf_counter()
        try:
            # Streamed so the size cap holds while reading; a read error mid-body is a transport
            # failure like a lost connection (the same retry rules apply).
            with self._http.stream(method, path, params=params, json=body) as response:
                content = _read_capped(response, self.max_response_bytes)
        except httpx.HTTPError as exc:
            elapsed_ms = (time.perf_counter() - started) * 1000
            cause = type(exc).__name__
            self._log.warning(
                "%s %s -> no answer (%s) after %.0f ms, attempt %d",
                method,
                path_only(path),
                cause,
                elapsed_ms,
                attempt,
            )
            repeat = self.retry.repeat_class(operation)
            if repeat is Repeat.NOT_BLINDLY and not self.retry.is_unsent_error(exc):
                raise OutcomeUnknownError(
                    f"{method} {path_only(path)} got no answer ({cause}); the request may have "
                    "been executed. Look the workflow up (enrichment_status with the cohort "
                    "handle, or the list's enrichment) before dispatching again: the quote is "
                    "single-use, so a blind repeat would fail rather than run.",
                    method=method,
                    path=path_only(path),
                    cause_type=cause,
                ) from exc
            raise TransportError(
                f"{method} {path_only(path)} got no answer from {self.origin} ({cause}). "
                "Check network access to the API (timeouts and dropped connections are retried "
                "automatically for calls that are safe to repeat).",
                method=method,
                path=path_only(path),
                cause_type=cause,
            ) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        if content is None:
            self._log.warning(
                "%s %s -> %d with a body over %d bytes in %.0f ms (attempt %d); not read",
                method,
                path_only(path),
                status,
                self.max_response_bytes,
                elapsed_ms,
                attempt,
            )
            raise ResponseShapeError(
                f"{method} {path_only(path)} answered {status} with a body over "
                f"{self.max_response_bytes} bytes (the client's response size cap); refused "
                "unread. A Cleanlist answer is never that large: check base_url points at the API.",
                model="response",
                field="",
            )
        if status >= 400:
            try:
                payload: Any = _loads(content)
            except (ValueError, RecursionError):
                payload = content.decode(response.charset_encoding or "utf-8", errors="replace")
            err = error_from_response(
                status=status,
                body=payload,
                retry_after_header=response.headers.get("retry-after"),
                method=method,
                path=path_only(path),
                secret=self.__key,
                hint=hint,
            )
            err.attempt = attempt
            request_id = err.request_id or response.headers.get("x-request-id")
            self._log.warning(
                "%s %s -> %d %s in %.0f ms (request_id=%s, attempt %d)",
                method,
                path_only(path),
                status,
                err.code or "",
                elapsed_ms,
                request_id,
                attempt,
            )
            raise err
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug(
                "%s %s -> %d in %.0f ms (request_id=%s, attempt %d)",
                method,
                path_only(path),
                status,
                elapsed_ms,
                response.headers.get("x-request-id"),
                attempt,
            )
        if fast_decode is not None:
            decoded = fast_decode(content)
            if decoded is not None:
                return decoded
        try:
            data = _loads(content)
        except (ValueError, RecursionError) as exc:
            # ValueError covers JSONDecodeError (orjson's and json's) and UnicodeDecodeError;
            # RecursionError is json's answer to nesting deeper than its stack (orjson stops at
            # 1024 levels and hands over). The body is not quoted: it may hold personal data.
            why = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
            raise ResponseShapeError(
                f"{method} {path_only(path)} answered {status} with a body that is {why} "
                f"({type(exc).__name__}).",
                model="response",
                field="",
            ) from None
        if not isinstance(data, dict):
            raise ResponseShapeError(
                f"{method} {path_only(path)} answered {status} with a JSON "
                f"{type(data).__name__} where an object was expected.",
                model="response",
                field="",
            )
        return data

    def _get_model(self, model: type[_M], operation: str, path: str) -> _M:
        return model.from_json(self._call(operation, "GET", path))


def _read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The (content-decoded) body, read chunk by chunk; ``None`` once it passes ``limit`` bytes.

    A ``Content-Length`` over the limit is refused before reading; otherwise reading stops at the
    first chunk past it, so at most ``limit`` plus one chunk is ever held.
    """
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _loads(content: bytes) -> Any:
    """The decoded body: orjson (a 500-lead page in ~0.5 ms, ~25 % less than ``json``), else json.

    orjson takes UTF-8 only and refuses what the standard decoder accepts (``NaN``, integers past
    64 bits, UTF-16/32); such a body is decoded as ``httpx.Response.json`` would (``json.loads``
    of the bytes), so the result never depends on the decoder. A body neither accepts raises
    ``ValueError`` (or ``RecursionError`` for nesting past the stack).
    """
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)
