"""Kept so ``pytest_plugins = ["emailactions.pytest_plugin"]`` still works; the plugin is :mod:`emailactions.testing`."""

from emailactions.testing import *  # noqa: F401,F403
