"""Telemetry: Prometheus metrics (`metrics`) and structured logs (`logs`).

A layer of its own beside `settings` and `keys`: everything above (store, services, http, jobs)
counts and logs through it; it imports only the standard library, prometheus-client and structlog.
"""
