"""Background job rules: states, the retry schedule and what a failure may say about itself.

Pure functions, no I/O: the worker (`jobs/worker.py`) and the queue service
(`services/job_queue.py`) apply them.
"""

from __future__ import annotations

import re
from enum import StrEnum

MAX_ERROR_LENGTH = 1000
# A retry is never scheduled sooner than this: a handler that fails at once cannot spin a worker.
MIN_RETRY_DELAY = 1.0


class JobState(StrEnum):
    """queued -> running -> done | queued (retry later) | dead (no tries left, or permanent).

    `jobs retry` moves dead -> queued. A running job whose lease has passed is claimable again.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class RetryLater(Exception):
    """Raised by a handler to be run again after `delay` seconds (a webhook honouring
    Retry-After, an upstream asking to wait). Counts as an attempt: `max_attempts` still applies."""

    def __init__(self, delay: float, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.delay = max(MIN_RETRY_DELAY, float(delay))
        self.reason = reason


class PermanentFailure(Exception):
    """Raised by a handler when trying again cannot help (bad payload, object gone): the job goes
    dead at once, with `reason` as its error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def backoff_ceiling(attempt: int, *, base: float, cap: float) -> float:
    """The largest delay after failed attempt number `attempt` (1-based): base * 2^(attempt-1),
    capped."""
    # min() on the exponent first keeps 2**n small: attempts can run into the hundreds.
    return min(cap, base * float(2 ** min(attempt - 1, 62)))


def backoff_delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Full jitter: a uniform delay in [MIN_RETRY_DELAY, ceiling]. `rand` is in [0, 1).

    Full jitter (rather than a fixed exponential) spreads the retries of many jobs that failed
    together (an upstream outage) so they do not all return at the same instant.
    """
    return max(MIN_RETRY_DELAY, rand * backoff_ceiling(attempt, base=base, cap=cap))


# What must never be stored in `last_error` or logged: access tokens, passwords in URLs,
# authorisation headers. Card codes and PINs never reach an exception message in the first place.
_REDACTIONS = (
    (re.compile(r"gw_[A-Za-z0-9_\-]{8,}"), "gw_[redacted]"),
    (re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 [redacted]"),
    (re.compile(r"(://[^/\s:@]+):[^@\s/]+@"), r"\1:[redacted]@"),
    (re.compile(r"(?i)((?:password|secret|token|api[_-]?key)\s*[=:]\s*)\S+"), r"\1[redacted]"),
)


def describe_error(exc: BaseException, *, secrets: tuple[str, ...] = ()) -> str:
    """A one-line description of `exc` for `last_error` and the logs: type and message, known
    secrets and secret-looking values redacted, truncated to MAX_ERROR_LENGTH."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return redact(text, secrets=secrets)


def redact(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_LENGTH:
        text = text[: MAX_ERROR_LENGTH - 1] + "…"
    return text
