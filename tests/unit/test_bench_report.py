"""The benchmark report: ratios to the same run's baselines, and what makes a run untrustworthy."""

from bench import report


def http(rps, cpu=1000.0, non_2xx=0):
    return {"rps": rps, "p50_ms": 10.0, "p99_ms": 40.0, "non_2xx": non_2xx, "socket_errors": 0, "server_cpu_us": cpu}


def results(**overrides):
    pg = {
        "settings": {"fsync": "on"},
        "ping": http(1000),
        "get_card": http(800),
        "redeem_uncontended": http(500, cpu=2000),
        "redeem_hot": http(250),
        "raw_update": {"tps": 5000.0, "transactions": 50000, "mean_ms": 12.8},
        "raw_update_hot": {"tps": 1000.0, "transactions": 10000, "mean_ms": 64.0},
        "server_errors_logged": 0,
        "ledger_ok": True,
    }
    pg.update(overrides)
    return {
        "when": "2026-01-01T00:00:00+00:00",
        "machine": {"nproc": 2, "cpu": "", "python": "3.11", "sqlite": "3.40", "wrk": "wrk", "loadavg_start": [1.0]},
        "config": {"seconds": 10, "connections": 64, "threads": 2},
        "backends": {"postgresql": pg},
    }


def test_redemption_is_reported_against_every_baseline():
    lines = report.summary_lines("postgresql", results()["backends"]["postgresql"])
    assert lines[0].startswith(
        "postgresql redeem, uncontended: 500 req/s = 0.50x ping, 0.62x GET card, 0.10x raw UPDATE; p50 10.0 ms"
    )
    assert "server CPU 2,000 us/request = 2.0x ping's" in lines[0]
    assert "0.25x raw one-row UPDATE" in lines[1]


def test_table_has_a_row_per_figure():
    table = report.table(results())
    assert table.count("\n| postgresql |") == 6
    assert "| postgresql | raw UPDATE, random row (mean 12.8 ms) | 5,000 | 5.00x |" in table


def test_failed_requests_broken_ledger_and_tracebacks_are_problems():
    assert report.problems(results()) == []
    bad = results(redeem_hot=http(250, non_2xx=3), ledger_ok=False, server_errors_logged=2)
    assert len(report.problems(bad)) == 3
