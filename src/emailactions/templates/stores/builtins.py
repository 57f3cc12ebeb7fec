"""The built-in template stores, registered like any plugin's: ``[templates] store`` picks one."""

from __future__ import annotations

from typing import Any

from emailactions.errors import ConfigError
from emailactions.hookspecs import hookimpl


def idm_folder(config: Any) -> Any:
    """IDM's ``emailTemplate-<id>.json`` files in the ``[email] conf`` folder."""
    from emailactions.templates.stores.folder import FolderStore

    if config.conf_dir is None:
        raise ConfigError("The template store 'idm-folder' needs [email] conf (an IDM conf folder)", key="email.conf")
    return FolderStore(config.conf_dir, layout="idm")


def folder(config: Any) -> Any:
    """Native ``<id>.json`` templates in the ``[email] templates`` folder."""
    from emailactions.templates.stores.folder import FolderStore

    if config.templates_dir is None:
        raise ConfigError("The template store 'folder' needs [email] templates (a folder)", key="email.templates")
    return FolderStore(config.templates_dir, layout="native")


def memory(config: Any) -> Any:
    """Templates that live as long as the host (created through the API)."""
    from emailactions.templates.stores.memory import MemoryStore

    return MemoryStore()


@hookimpl(trylast=True)
def register_template_stores(register: Any) -> None:
    register("idm-folder", idm_folder)
    register("folder", folder)
    register("memory", memory)
