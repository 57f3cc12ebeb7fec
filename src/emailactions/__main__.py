"""``python -m emailactions``: the CLI."""

from .cli import main

main()
