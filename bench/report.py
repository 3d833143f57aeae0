"""Turn a results document into the lines and the markdown table that `make bench` prints."""

from __future__ import annotations

import sys
from typing import Any

HTTP = [
    ("bare", 'bare FastAPI GET {"ok": true} (baseline)'),
    ("ping", "GET /v1/ping (token check only)"),
    ("get_card", "GET /v1/cards/{id}"),
    ("redeem_uncontended", "redeem, uncontended"),
    ("redeem_hot", "redeem, one hot card"),
    ("redeem_32", "redeem, uncontended, 32 connections (latency)"),
]
RAW = [("raw_update", "raw UPDATE, random row"), ("raw_update_hot", "raw UPDATE, one row")]
ORDERS = [("order_1", "POST /v1/orders, 1 card (sync)"), ("order_10", "POST /v1/orders, 10 cards (sync)")]
# The product figure the order figures are measured against.
REDEEM = "redeem_uncontended"


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _ratio(x: float, base: dict[str, Any] | None, key: str) -> str:
    if not base or not base.get(key):
        return "-"
    r = x / base[key]
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x"


def _latency(r: dict[str, Any]) -> str:
    return f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"


def _cpu_ratio(r: dict[str, Any], base: dict[str, Any] | None) -> float | None:
    """The server CPU per request of `r` over that of `base`, when both were measured."""
    if not r.get("server_cpu_us") or not base or not base.get("server_cpu_us"):
        return None
    return float(r["server_cpu_us"]) / float(base["server_cpu_us"])


def summary_lines(name: str, b: dict[str, Any]) -> list[str]:
    """One sentence per redemption figure, as absolute and as ratios to the baselines."""
    lines = []
    ping, get, upd, base = b.get("ping"), b.get("get_card"), b.get("raw_update"), b.get("bare")
    for key, label in HTTP[1:]:
        r = b.get(key)
        if not r:
            continue
        parts = [
            f"{_ratio(r['rps'], base, 'rps')} bare FastAPI",
            f"{_ratio(r['rps'], ping, 'rps')} ping",
            f"{_ratio(r['rps'], get, 'rps')} GET card",
            f"{_ratio(r['rps'], upd, 'tps')} raw UPDATE",
        ]
        if key == "redeem_hot" and b.get("raw_update_hot"):
            parts.append(f"{_ratio(r['rps'], b['raw_update_hot'], 'tps')} raw one-row UPDATE")
        line = f"{name} {label}: {r['rps']:,.0f} req/s = {', '.join(parts)}; {_latency(r)}"
        cpu = _cpu_ratio(r, ping)
        if cpu is not None:
            bare_cpu = _cpu_ratio(r, base)
            line += (
                f"; server CPU {r['server_cpu_us']:,.0f} us/request = {cpu:.1f}x "
                f"ping's{f', {bare_cpu:.1f}x bare' if bare_cpu else ''} "
                f"(the server kept {r['rps'] * r['server_cpu_us'] / 1e6:.2f} cores busy)"
            )
        lines.append(line)
    return lines


def order_lines(name: str, b: dict[str, Any]) -> list[str]:
    """One sentence per order figure, as absolute and as a ratio to the uncontended redemption:
    orders per second and cards per second for the synchronous orders, cards per second for the
    background one."""
    redeem = b.get(REDEEM)
    lines = []
    for key, label in ORDERS:
        r = b.get(key)
        if not r:
            continue
        cards = r["rps"] * r["cards_per_order"]
        line = (
            f"{name} {label}: {r['rps']:,.1f} orders/s = {_ratio(r['rps'], redeem, 'rps')} redeem; "
            f"{cards:,.0f} cards/s = {_ratio(cards, redeem, 'rps')} redeem; {_latency(r)}"
        )
        cpu = _cpu_ratio(r, redeem)
        if cpu is not None:
            line += f"; server CPU {r['server_cpu_us']:,.0f} us/order = {cpu:.1f}x a redemption's"
        lines.append(line)
    a = b.get("order_async")
    if a:
        lines.append(
            f"{name} background order of {a['cards']:,} cards: {a['status']} in {a['seconds']:.1f} s from placement "
            f"(placing it {a['placement_seconds']:.1f} s) = {a['cards_per_second']:,.0f} cards/s = "
            f"{_ratio(a['cards_per_second'], redeem, 'rps')} redeem; {a['fulfiller_cpu_us_per_card']:,.0f} us CPU "
            f"per card in {a['fulfilled_by']}"
        )
        page = a.get("cards_page")
        if page:
            lines.append(
                f"{name} GET /v1/orders/{{id}}/cards of that order, first page of {page['limit']}: "
                f"p50 {page['p50_ms']:.1f} ms, max {page['max_ms']:.1f} ms of {page['requests']}, "
                f"server CPU {page['server_cpu_ms']:.1f} ms a request"
            )
    return lines


def _header(*figures: str) -> list[str]:
    """A markdown table's head: the database and the benchmark, then right-aligned figures."""
    return ["| database | benchmark | " + " | ".join(figures) + " |", "|---|---|" + "---:|" * len(figures)]


def orders_table(results: dict[str, Any]) -> str:
    rows = _header(
        "orders/s", "cards/s", "x redeem (orders)", "x redeem (cards)", "p50 ms", "p99 ms", "CPU us", "failures"
    )
    for name, b in results["backends"].items():
        redeem = b.get(REDEEM)
        for key, label in ORDERS:
            r = b.get(key)
            if not r:
                continue
            cards = r["rps"] * r["cards_per_order"]
            rows.append(
                f"| {name} | {label} | {r['rps']:,.1f} | {cards:,.0f} | {_ratio(r['rps'], redeem, 'rps')} | "
                f"{_ratio(cards, redeem, 'rps')} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{_cpu(r)} per order | {r['non_2xx'] + r['socket_errors']} |"
            )
        a = b.get("order_async")
        if a:
            failures = 0 if a["status"] == "completed" else a["status"]
            rows.append(
                f"| {name} | background order, {a['cards']:,} cards ({a['seconds']:.1f} s) | - | "
                f"{a['cards_per_second']:,.0f} | - | {_ratio(a['cards_per_second'], redeem, 'rps')} | - | - | "
                f"{a['fulfiller_cpu_us_per_card']:,.0f} per card | {failures} |"
            )
    return "\n".join(rows)


def _cpu(r: dict[str, Any]) -> str:
    return f"{r['server_cpu_us']:,.0f}" if r.get("server_cpu_us") else "-"


def table(results: dict[str, Any]) -> str:
    rows = _header(
        "per second",
        "x bare",
        "x ping",
        "x raw UPDATE",
        "p50 ms",
        "p99 ms",
        "server CPU us/req",
        "CPU x bare",
        "failures",
    )
    for name, b in results["backends"].items():
        ping, upd, base = b.get("ping"), b.get("raw_update"), b.get("bare")
        for key, label in HTTP:
            r = b.get(key)
            if not r:
                continue
            fails = r["non_2xx"] + r["socket_errors"]
            cpu = _cpu_ratio(r, base)
            rows.append(
                f"| {name} | {label} | {r['rps']:,.0f} | {_ratio(r['rps'], base, 'rps')} | "
                f"{_ratio(r['rps'], ping, 'rps')} | {_ratio(r['rps'], upd, 'tps')} | "
                f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {_cpu(r)} | {f'{cpu:.1f}x' if cpu else '-'} | {fails} |"
            )
        for key, label in RAW:
            r = b.get(key)
            if not r:
                continue
            p50 = f"{r['p50_ms']:.2f}" if r.get("p50_ms") is not None else "-"
            p99 = f"{r['p99_ms']:.2f}" if r.get("p99_ms") is not None else "-"
            # pgbench reports only a mean latency
            shown = label if r.get("p50_ms") is not None else f"{label} (mean {r['mean_ms']:.1f} ms)"
            rows.append(
                f"| {name} | {shown} | {r['tps']:,.0f} | {_ratio(r['tps'], base, 'rps')} | "
                f"{_ratio(r['tps'], ping, 'rps')} | {_ratio(r['tps'], upd, 'tps')} | {p50} | {p99} | - | - | - |"
            )
    return "\n".join(rows)


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    cfg = results["config"]
    out = [
        "",
        f"## Giftwell benchmarks, {results['when']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu'] or 'unknown CPU'}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['wrk']}; load average at start {m['loadavg_start'][0]:.2f}.",
        f"Each run {cfg['seconds']} s, {cfg['connections']} connections, {cfg['threads']} wrk threads; "
        f"one `giftwell serve` process (one uvicorn worker).",
        "",
    ]
    for name, b in results["backends"].items():
        settings = ", ".join(f"{k}={v}" for k, v in b.get("settings", {}).items())
        out.append(f"{name} ({settings}):")
        out += [f"  {ln}" for ln in summary_lines(name, b) + order_lines(name, b)]
        out.append("")
    out.append(table(results))
    if any(b.get("order_1") or b.get("order_async") for b in results["backends"].values()):
        out += ["", orders_table(results)]
    return "\n".join(out)


def problems(results: dict[str, Any]) -> list[str]:
    """What makes the run untrustworthy: failed requests, server errors, a broken ledger."""
    found = []
    for name, b in results["backends"].items():
        for key, _ in HTTP + ORDERS:
            r = b.get(key)
            if r and (r["non_2xx"] or r["socket_errors"]):
                found.append(f"{name} {key}: {r['non_2xx']} non-2xx responses, {r['socket_errors']} socket errors")
        a = b.get("order_async")
        if a and a["status"] != "completed":
            found.append(f"{name}: the background order of {a['cards']} cards ended {a['status']}, not completed")
        if b.get("order_async", {}).get("worker_errors_logged"):
            found.append(f"{name}: the worker logged {b['order_async']['worker_errors_logged']} tracebacks")
        if b.get("server_errors_logged"):
            found.append(f"{name}: the server logged {b['server_errors_logged']} tracebacks")
        if not b.get("ledger_ok"):
            found.append(f"{name}: `giftwell ledger verify` failed after the run")
    return found


def run_alone(measure: Any, lines: Any, problems: Any, *, prefix: str, details: Any = None) -> None:
    """`python -m bench.<one>`: measure in a temporary directory, print the lines (and any
    `details`), the problems to stderr, and exit 1 if there are any."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    result = measure(Path(tempfile.mkdtemp(prefix=prefix)), durable=os.environ.get("BENCH_PG_DURABLE", "1") != "0")
    print("\n".join(lines(result)))
    if details is not None:
        print("\n".join(details(result)))
    issues = problems(result)
    for p in issues:
        print(f"PROBLEM: {p}", file=sys.stderr)
    sys.exit(1 if issues else 0)
