"""The ``emailactions`` command: one module per command group, none imported by core code."""

from emailactions.cli.root import main

__all__ = ["main"]
