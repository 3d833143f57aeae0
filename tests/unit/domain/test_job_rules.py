"""The pure job rules: the retry schedule and what an error may say."""

from __future__ import annotations

import random

from giftwell.domain.jobs import (
    MAX_ERROR_LENGTH,
    MIN_RETRY_DELAY,
    RetryLater,
    backoff_ceiling,
    backoff_delay,
    describe_error,
)


def test_backoff_ceiling_doubles_then_caps():
    ceilings = [backoff_ceiling(n, base=5, cap=300) for n in range(1, 9)]
    assert ceilings == [5, 10, 20, 40, 80, 160, 300, 300]
    assert backoff_ceiling(10_000, base=5, cap=300) == 300


def test_full_jitter_stays_within_bounds_and_spreads():
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = backoff_ceiling(attempt, base=2, cap=600)
        delays = [backoff_delay(attempt, base=2, cap=600, rand=rng.random()) for _ in range(200)]
        assert all(MIN_RETRY_DELAY <= d <= max(MIN_RETRY_DELAY, ceiling) for d in delays)
        if ceiling >= 20:
            # jittered, not fixed: the delays cover the range rather than bunching up
            assert min(delays) < ceiling / 4
            assert max(delays) > ceiling * 3 / 4


def test_retry_later_never_asks_for_less_than_a_second():
    assert RetryLater(0).delay == MIN_RETRY_DELAY
    assert RetryLater(120).delay == 120


def test_errors_are_redacted_and_truncated():
    secret = "s3cr3t-" + "k" * 40
    exc = RuntimeError(
        f"boom with {secret} at postgresql://app:hunter2@db/x, token gw_abcdefghijklmnopqrstuvwxyz "
        "Authorization: Bearer abc.def.ghi password=letmein"
    )
    text = describe_error(exc, secrets=(secret,))
    assert text.startswith("RuntimeError: boom with [redacted]")
    for leaked in (secret, "hunter2", "gw_abcdefghijklmnop", "abc.def.ghi", "letmein"):
        assert leaked not in text
    long = describe_error(ValueError("x" * 5000))
    assert len(long) == MAX_ERROR_LENGTH
    assert describe_error(KeyError()) == "KeyError"
