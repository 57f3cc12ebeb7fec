"""``python -m emailactions``: the CLI."""

from emailactions.cli import main

main()
