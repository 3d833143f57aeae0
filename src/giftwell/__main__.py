"""`python -m giftwell`: the same as the `giftwell` command."""

from giftwell.cli.main import main

main()
