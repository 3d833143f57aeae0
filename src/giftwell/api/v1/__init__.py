"""Native API, version 1."""
