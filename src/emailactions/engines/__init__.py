"""Template engines; each backend is one module registering itself as a plugin."""

from emailactions.engines.base import TemplateEngine

__all__ = ["TemplateEngine"]
