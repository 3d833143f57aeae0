"""The benchmark report: ratios to the same run's baselines, and what makes a run untrustworthy."""

from bench import report


def http(rps, cpu=1000.0, non_2xx=0):
    return {"rps": rps, "p50_ms": 10.0, "p99_ms": 40.0, "non_2xx": non_2xx, "socket_errors": 0, "server_cpu_us": cpu}


def results(**overrides):
    pg = {
        "settings": {"fsync": "on"},
        "bare": http(10000, cpu=100.0),
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
        "postgresql GET /v1/ping (token check only): 1,000 req/s = 0.10x bare FastAPI, 1.00x ping"
    )
    redeem, hot = lines[2], lines[3]
    assert redeem.startswith(
        "postgresql redeem, uncontended: 500 req/s = 0.050x bare FastAPI, 0.50x ping, 0.62x GET card, "
        "0.10x raw UPDATE; p50 10.0 ms"
    )
    assert "server CPU 2,000 us/request = 2.0x ping's, 20.0x bare" in redeem
    assert "0.25x raw one-row UPDATE" in hot


def test_table_has_a_row_per_figure():
    table = report.table(results())
    assert table.count("\n| postgresql |") == 7
    assert '| postgresql | bare FastAPI GET {"ok": true} (baseline) | 10,000 | 1.00x |' in table
    assert (
        "| postgresql | redeem, uncontended | 500 | 0.050x | 0.50x | 0.10x | 10.0 | 40.0 | 2,000 | 20.0x | 0 |" in table
    )
    assert "| postgresql | raw UPDATE, random row (mean 12.8 ms) | 5,000 | 0.50x | 5.00x |" in table


def test_failed_requests_broken_ledger_and_tracebacks_are_problems():
    assert report.problems(results()) == []
    bad = results(redeem_hot=http(250, non_2xx=3), ledger_ok=False, server_errors_logged=2)
    assert len(report.problems(bad)) == 3


def with_orders(**overrides):
    doc = results(
        order_1={**http(100, cpu=10000), "cards_per_order": 1},
        order_10={**http(20, cpu=80000), "cards_per_order": 10},
        order_async={
            "cards": 10000,
            "status": "completed",
            "seconds": 40.0,
            "placement_seconds": 2.0,
            "cards_per_second": 250.0,
            "fulfiller_cpu_us_per_card": 3000.0,
            "fulfilled_by": "giftwell worker process",
            "worker_errors_logged": 0,
        },
    )
    doc["backends"]["postgresql"].update(overrides)
    return doc


def test_orders_are_reported_as_ratios_to_the_uncontended_redemption():
    one, ten, bg = report.order_lines("postgresql", with_orders()["backends"]["postgresql"])
    # redeem_uncontended: 500 req/s at 2,000 us of server CPU each
    assert one.startswith("postgresql POST /v1/orders, 1 card (sync): 100.0 orders/s = 0.20x redeem; 100 cards/s")
    assert "server CPU 10,000 us/order = 5.0x a redemption's" in one
    assert "20.0 orders/s = 0.040x redeem; 200 cards/s = 0.40x redeem" in ten
    assert bg.startswith("postgresql background order of 10,000 cards: completed in 40.0 s from placement")
    assert "250 cards/s = 0.50x redeem; 3,000 us CPU per card in giftwell worker process" in bg


def test_orders_table_and_report_without_orders():
    table = report.orders_table(with_orders())
    assert "| postgresql | POST /v1/orders, 10 cards (sync) | 20.0 | 200 | 0.040x | 0.40x |" in table
    assert "| postgresql | background order, 10,000 cards (40.0 s) | - | 250 | - | 0.50x |" in table
    assert "orders/s" in report.render(with_orders())
    # a results document from before the order benchmarks renders without their table
    assert "orders/s" not in report.render(results())
    assert report.order_lines("postgresql", results()["backends"]["postgresql"]) == []


def test_failed_orders_and_an_unfinished_background_order_are_problems():
    assert report.problems(with_orders()) == []
    bad = with_orders(order_10={**http(20, non_2xx=4), "cards_per_order": 10})
    bad["backends"]["postgresql"]["order_async"].update(status="processing", worker_errors_logged=1)
    found = report.problems(bad)
    assert len(found) == 3
    assert "postgresql order_10: 4 non-2xx responses, 0 socket errors" in found
    assert "postgresql: the background order of 10000 cards ended processing, not completed" in found
