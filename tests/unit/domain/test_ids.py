"""Prefixed, time-ordered ids."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from giftwell.domain import ids
from giftwell.domain.ids import new_id

BODY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_MS = 2**48 - 1


def test_id_is_prefix_underscore_26_crockford_symbols():
    i = new_id("card")
    prefix, body = i.split("_")
    assert prefix == "card"
    assert BODY.match(body), body


def test_ids_differ_within_one_millisecond():
    ids = {new_id("trf", now_ms=1_700_000_000_000) for _ in range(1000)}
    assert len(ids) == 1000
    # ...and share the 10-symbol time part.
    assert len({i[4:14] for i in ids}) == 1


def test_time_part_encodes_the_milliseconds():
    assert new_id("x", now_ms=0)[2:12] == "0" * 10
    assert new_id("x", now_ms=MAX_MS)[2:12] == "7ZZZZZZZZZ"
    assert int(new_id("x", now_ms=1)[2:12], 32) == 1


@given(st.lists(st.integers(min_value=0, max_value=MAX_MS), min_size=2, max_size=50, unique=True))
def test_ids_sort_by_time(stamps):
    ids = {ms: new_id("card", now_ms=ms) for ms in stamps}
    assert sorted(ids.values()) == [ids[ms] for ms in sorted(stamps)]


def test_ids_made_now_sort_after_ids_made_earlier():
    earlier = new_id("la", now_ms=1_600_000_000_000)
    assert new_id("la") > earlier


def test_encoding_is_crockford_base32_of_the_time_then_the_random_bits(monkeypatch):
    # The one-call encoding gives exactly what a digit-by-digit Crockford encoding gives.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for ms, rnd in [(0, 0), (2**48 - 1, 2**80 - 1), (1_733_000_000_000, 0x1234_5678_9ABC_DEF0_1357)]:
        monkeypatch.setattr(ids.os, "urandom", lambda n, r=rnd: r.to_bytes(n))
        value, digits = (ms << 80) | rnd, []
        for _ in range(26):
            value, d = divmod(value, 32)
            digits.append(alphabet[d])
        assert ids.new_id("x", now_ms=ms) == "x_" + "".join(reversed(digits))
