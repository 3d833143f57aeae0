"""Persistence: engine and connections, typed table models, queries, the unit of work, migrations."""
