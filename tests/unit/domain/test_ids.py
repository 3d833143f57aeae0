"""Prefixed, time-ordered ids."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

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
