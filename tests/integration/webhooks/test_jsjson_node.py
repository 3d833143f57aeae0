"""`jsjson.dumps` against node itself: for awkward values (every control character, quotes,
backslashes, non-ASCII scripts, emoji, U+2028/2029, lone surrogates, array-index keys, deep
nesting, large safe integers) the bytes are exactly what JSON.stringify(JSON.parse(them)) gives."""

from __future__ import annotations

import json
import random
import subprocess

from giftwell.domain import jsjson

SCRIPT = r"""
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
process.stdout.write(JSON.stringify(lines.map((b64) => {
  const raw = Buffer.from(b64, 'base64').toString('utf8');
  return JSON.stringify(JSON.parse(raw)) === raw;
})));
"""


def samples():
    rng = random.Random(6)
    alphabet = (
        [chr(c) for c in range(0x80)]
        + list("éüßøÆŁżĆ日本語한국어עברית😀🎁👩🏽‍💻\u2028\u2029\u00a0\ufeff\ufffd")
        + ["\ud800", "\udfff"]
    )
    out = [
        {"": "", "0": 0, "1": 1, "10": 2, "4294967294": 3, "4294967295": 4, "01": 5, "a": {"3": [], "2": {}}},
        {"n": [0, -0, 2**53 - 1, -(2**53 - 1), 1.0, -7.0]},
        {"deep": [[[[[[{"x": [{"y": "z"}]}]]]]]]},
    ]
    for _ in range(200):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        k = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
        out.append({k: s, "list": [s, k, rng.randint(-(2**53) + 1, 2**53 - 1)], str(rng.randint(0, 99)): True})
    return out


def test_dumps_is_a_fixed_point_of_javascripts_round_trip(tmp_path):
    import base64

    encoded = [base64.b64encode(jsjson.dumps(v)).decode() for v in samples()]
    script = tmp_path / "roundtrip.js"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        ["node", str(script)], input="\n".join(encoded), capture_output=True, text=True, timeout=60, check=True
    )
    results = json.loads(proc.stdout)
    assert len(results) == len(encoded)
    bad = [base64.b64decode(e).decode("utf-8", "replace") for e, ok in zip(encoded, results, strict=True) if not ok]
    assert not bad, bad[:3]
