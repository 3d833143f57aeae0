"""The process's Prometheus metrics, and their rendering for `GET /metrics`.

Counters and histograms live in this process (prometheus-client). When several processes serve
the same deployment (`giftwell serve --workers N`, gunicorn, granian, ...), set
`PROMETHEUS_MULTIPROC_DIR` to an empty directory shared by them (`multiprocess_dir` does it for
`giftwell serve`): every process then writes its values to memory-mapped files there, and any one
of them renders the sum of all. What the database knows (job queue depth, oldest due job, dead
jobs, worker heartbeats) is read at scrape time by the caller and rendered with `gauge_text`.

Every name starts with `giftwell_`. Labels are low-cardinality by construction: a route's
*template* (`/v1/cards/{card_id}`), never its path; a currency; a job kind; a webhook endpoint id.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = CONTENT_TYPE_LATEST
ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir(path: Path) -> Path:
    """Put this process, and every process it starts, in multiprocess mode writing to `path`
    (emptied first: values of processes from an earlier run would be summed in). Call it before
    the first metric is touched, in the parent of the processes that will serve."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    # prometheus-client picks its value class when imported; ours may have been imported before
    # the directory was known. Labelled children made from now on write to the shared files.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path


def is_multiprocess() -> bool:
    return bool(os.environ.get(ENV))


REGISTRY = CollectorRegistry(auto_describe=True)
if not os.environ.get(ENV):
    # CPU and memory of this process; in multiprocess mode they would describe only the process
    # that answers the scrape, so they are left out there.
    ProcessCollector(registry=REGISTRY)
    PlatformCollector(registry=REGISTRY)

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Histogram(
    "giftwell_http_request_duration_seconds",
    "HTTP requests by method, route template and status, with their latency.",
    ("method", "route", "status"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
REDEMPTIONS = Counter(
    "giftwell_redemptions_total",
    "Card redemptions (immediate or held) by currency.",
    ("currency",),
    registry=REGISTRY,
)
REDEEMED_MINOR = Counter(
    "giftwell_redeemed_amount_minor_total",
    "Amount redeemed, in the currency's minor units (EUR cents, JPY yen), by currency.",
    ("currency",),
    registry=REGISTRY,
)
JOB_ATTEMPTS = Counter(
    "giftwell_job_attempts_total",
    "Job attempts by kind and outcome (done, retry, dead, stale).",
    ("kind", "outcome"),
    registry=REGISTRY,
)
JOB_FAILURES = Counter(
    "giftwell_job_failures_total",
    "Failed job attempts by kind (retried or dead).",
    ("kind",),
    registry=REGISTRY,
)
JOBS_DEAD = Counter(
    "giftwell_jobs_dead_total",
    "Jobs that went dead (no attempts left, or a permanent failure) by kind.",
    ("kind",),
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "giftwell_webhook_attempts_total",
    "Webhook delivery attempts by endpoint and outcome (succeeded, failed).",
    ("endpoint", "outcome"),
    registry=REGISTRY,
)
WEBHOOK_FAILURES = Counter(
    "giftwell_webhook_failures_total",
    "Failed webhook delivery attempts by endpoint.",
    ("endpoint",),
    registry=REGISTRY,
)
DELIVERY_FAILURES = Counter(
    "giftwell_delivery_failures_total",
    "Failed email and SMS delivery attempts by channel.",
    ("channel",),
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "giftwell_db_pool_connections_in_use",
    "Database connections checked out of the pool, summed over the live processes.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "giftwell_db_pool_size",
    "Database connections each process may open (the pool's size), summed over the live processes.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


def redeemed(currency: str, amount: int) -> None:
    REDEMPTIONS.labels(currency).inc()
    REDEEMED_MINOR.labels(currency).inc(amount)


def job_outcome(kind: str, outcome: str) -> None:
    JOB_ATTEMPTS.labels(kind, outcome).inc()
    if outcome in ("retry", "dead"):
        JOB_FAILURES.labels(kind).inc()
    if outcome == "dead":
        JOBS_DEAD.labels(kind).inc()


def webhook_attempt(endpoint_id: str, *, ok: bool) -> None:
    WEBHOOK_ATTEMPTS.labels(endpoint_id, "succeeded" if ok else "failed").inc()
    if not ok:
        WEBHOOK_FAILURES.labels(endpoint_id).inc()


def delivery_failed(channel: str) -> None:
    DELIVERY_FAILURES.labels(channel).inc()


def process_exited(pid: int) -> None:
    """Forget a finished process's live gauges (multiprocess mode only)."""
    if is_multiprocess():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def render() -> bytes:
    """This process's metrics, or, in multiprocess mode, every process's summed."""
    if is_multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def gauge_text(families: Iterable[tuple[str, str, tuple[str, ...], Mapping[tuple[str, ...], float]]]) -> bytes:
    """Render gauges read at scrape time (from the database): (name, help, label names,
    {label values: value})."""

    class _Once:
        def collect(self) -> Iterable[GaugeMetricFamily]:
            for name, doc, labels, samples in families:
                family = GaugeMetricFamily(name, doc, labels=list(labels))
                for key, value in samples.items():
                    family.add_metric(list(key), value)
                yield family

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Once())
    return generate_latest(registry)
