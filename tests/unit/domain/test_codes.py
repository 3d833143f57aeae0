"""Card codes: the default format, normalisation, supplied codes, Luhn, entropy and guessing odds."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from giftwell.domain import codes
from giftwell.domain.codes import (
    DEFAULT_FORMAT,
    CodeFormat,
    check_supplied,
    generate,
    guess_probability_per_year,
    last4,
    luhn_check_digit,
    luhn_valid,
    normalize,
)
from giftwell.domain.errors import ValidationFailed


def test_default_format_is_16_symbols_80_bits_in_groups_of_four():
    assert CodeFormat() == DEFAULT_FORMAT
    assert DEFAULT_FORMAT.kind == "alphanumeric"
    assert DEFAULT_FORMAT.length == 16
    assert DEFAULT_FORMAT.group == 4
    assert DEFAULT_FORMAT.entropy_bits == 80.0
    assert len(DEFAULT_FORMAT.alphabet) == 32


def test_default_alphabet_has_nothing_that_reads_as_another_symbol():
    alphabet = DEFAULT_FORMAT.alphabet
    assert len(set(alphabet)) == 32
    for confusable in "ILOU":
        assert confusable not in alphabet
    assert set(alphabet) == set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_generated_default_code_shape():
    pattern = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
    seen = set()
    for _ in range(200):
        code = generate()
        assert pattern.match(code), code
        assert len(normalize(code)) == 16
        seen.add(code)
    assert len(seen) == 200  # 80 bits: a repeat in 200 draws would mean a broken generator


def test_generated_code_with_prefix_and_other_group():
    code = generate(CodeFormat(length=12, prefix="GW", group=7))
    raw = normalize(code)
    assert raw.startswith("GW")
    assert len(raw) == 14
    assert [len(g) for g in code.split("-")] == [7, 7]
    assert generate(CodeFormat(length=12, group=0)).count("-") == 0


def test_numeric_luhn_codes_pass_luhn_valid():
    fmt = CodeFormat(kind="numeric", length=19, luhn=True, prefix="6")
    for _ in range(200):
        code = generate(fmt)
        assert code.isdigit()
        assert len(code) == 20
        assert code.startswith("6")
        assert luhn_valid(code), code
    assert fmt.random_symbols == 18
    assert fmt.entropy_bits == pytest.approx(18 * math.log2(10))


@pytest.mark.parametrize(
    ("code", "normal"),
    [
        ("abcd-efgh-jkmn-pqrs", "ABCDEFGHJKMNPQRS"),
        ("ABCD EFGH JKMN PQRS", "ABCDEFGHJKMNPQRS"),
        ("  aBcD-- eFgH ", "ABCDEFGH"),
        ("abcdefgh", "ABCDEFGH"),
    ],
)
def test_normalize_ignores_case_spaces_and_dashes(code, normal):
    assert normalize(code) == normal


@given(st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=8, max_size=64), st.data())
def test_every_spelling_of_a_code_normalizes_the_same(raw, data):
    spelled = "".join(
        data.draw(st.sampled_from([ch, ch.lower()])) + data.draw(st.sampled_from(["", "-", " "])) for ch in raw
    )
    assert normalize(spelled) == raw
    assert last4(spelled) == raw[-4:]


def test_last4_is_of_the_normalized_code():
    assert last4("abcd-efgh-jkmn-pq-rs") == "PQRS"


@pytest.mark.parametrize("n", [8, 9, 32, 63, 64])
def test_supplied_code_lengths_8_to_64_are_accepted(n):
    code = "A" * n
    assert check_supplied(f"  {code}  ") == code


def test_supplied_length_ignores_spaces_and_dashes():
    assert check_supplied("AB-CD EF-GH") == "AB-CD EF-GH"
    with pytest.raises(ValidationFailed):
        check_supplied("AB-CD EF-G")  # 7 symbols
    assert check_supplied("-".join(["ABCD"] * 16)) == "-".join(["ABCD"] * 16)  # 64 symbols, 79 characters


@pytest.mark.parametrize("code", ["A" * 7, "A" * 65, "", "   ", "ABC-DE-F"])
def test_supplied_code_of_wrong_length_is_refused(code):
    with pytest.raises(ValidationFailed) as exc:
        check_supplied(code, param="card.code")
    assert exc.value.param == "card.code"


@pytest.mark.parametrize("code", ["ABCD_EFGH", "ABCD.EFGH", "ABCDÉFGH", "ABCD\nEFGH", "ABCDEFGH!"])
def test_supplied_code_with_other_characters_is_refused(code):
    with pytest.raises(ValidationFailed) as exc:
        check_supplied(code)
    assert exc.value.param == "code"


@pytest.mark.parametrize(
    ("payload", "digit"),
    [
        ("7992739871", "3"),  # the textbook example: 79927398713
        ("453201511283036", "6"),  # Visa test number 4532015112830366
        ("411111111111111", "1"),  # 4111111111111111
        ("37828224631000", "5"),  # Amex 378282246310005
        ("0", "0"),
        ("", "0"),
    ],
)
def test_luhn_check_digit_for_known_numbers(payload, digit):
    assert luhn_check_digit(payload) == digit
    assert luhn_valid(payload + digit) or payload == ""


@pytest.mark.parametrize("number", ["79927398710", "79927398712", "79927398714", "4111111111111112"])
def test_luhn_valid_refuses_a_wrong_check_digit(number):
    assert not luhn_valid(number)


@pytest.mark.parametrize("number", ["", "0", "7992-7398-713", "7992739871a", " 79927398713", "²3", "١٨", "٧٩٩٢٧٣٩٨٧١٣"])
def test_luhn_valid_is_false_for_what_is_not_a_number(number):
    assert luhn_valid(number) is False


@given(st.text(alphabet="0123456789", min_size=1, max_size=40), st.integers(min_value=0, max_value=39), st.data())
def test_luhn_catches_every_single_digit_error(payload, pos, data):
    number = payload + luhn_check_digit(payload)
    assert luhn_valid(number)
    i = pos % len(number)
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[i]]))
    assert not luhn_valid(number[:i] + wrong + number[i + 1 :])


@pytest.mark.parametrize(
    "fmt",
    [
        {"kind": "numeric", "length": 12},  # 39.9 bits
        {"kind": "numeric", "length": 13, "luhn": True},  # 12 random digits
        {"kind": "alphanumeric", "length": 7, "prefix": "X"},  # 35 bits
    ],
)
def test_formats_under_40_bits_are_refused(fmt):
    with pytest.raises(ValidationFailed, match="bits of entropy") as exc:
        CodeFormat(**fmt)
    assert exc.value.param == "code_format.length"


def test_formats_at_the_limits():
    assert CodeFormat(length=8).entropy_bits == 40.0
    assert CodeFormat(kind="numeric", length=13).entropy_bits >= codes.MIN_GENERATED_BITS
    assert CodeFormat(kind="numeric", length=64).length == 64
    with pytest.raises(ValidationFailed, match="code length"):
        CodeFormat(length=65)
    with pytest.raises(ValidationFailed, match="code length"):
        CodeFormat(length=60, prefix="X" * 5)


def test_format_option_combinations_that_make_no_sense_are_refused():
    with pytest.raises(ValidationFailed) as exc:
        CodeFormat(kind="alphanumeric", luhn=True)
    assert exc.value.param == "code_format.luhn"
    for prefix in ("AB", "²", "٧"):
        with pytest.raises(ValidationFailed) as exc:
            CodeFormat(kind="numeric", length=16, prefix=prefix)
        assert exc.value.param == "code_format.prefix"


def test_guess_probability_is_the_union_bound():
    # 1 billion guesses a year against a million live 80-bit codes.
    p = guess_probability_per_year(bits=80, live_cards=1_000_000, guesses_per_year=1e9)
    assert p == pytest.approx(1e15 / 2**80)
    assert p == pytest.approx(8.271806125530277e-10)
    # Each bit halves the odds; cards and guesses scale them linearly.
    assert guess_probability_per_year(bits=81, live_cards=1_000_000, guesses_per_year=1e9) == pytest.approx(p / 2)
    assert guess_probability_per_year(bits=80, live_cards=2_000_000, guesses_per_year=1e9) == pytest.approx(2 * p)
    assert guess_probability_per_year(bits=80, live_cards=0, guesses_per_year=1e9) == 0.0
    numeric = CodeFormat(kind="numeric", length=16, luhn=True)
    assert guess_probability_per_year(
        bits=numeric.entropy_bits, live_cards=1000, guesses_per_year=1e6
    ) == pytest.approx(1e9 / 10**15)


def test_generated_symbols_are_uniform_at_every_position():
    # One draw per code read out digit by digit: each position must still take every symbol of
    # the alphabet about equally often (a chi-square bound far beyond chance: p < 1e-6).
    fmt = codes.CodeFormat(kind="numeric", length=13, luhn=False, group=0)
    n = 20_000
    drawn = [codes.generate(fmt) for _ in range(n)]
    for pos in range(13):
        counts = [0] * 10
        for c in drawn:
            counts[int(c[pos])] += 1
        chi2 = sum((k - n / 10) ** 2 / (n / 10) for k in counts)
        assert chi2 < 45, (pos, counts)
    assert len(set(drawn)) == n  # 10**13 possible codes: a repeat among 20,000 has odds of 2e-5
