"""`python -m giftwell ...`: the same CLI as the `giftwell` entry point (used by tests and
benchmarks to start real server processes with the running interpreter)."""

from giftwell.cli.main import main

if __name__ == "__main__":
    main()
