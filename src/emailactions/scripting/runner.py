"""Scripting: the languages a host knows, and how a script picks one and runs."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from emailactions.errors import DuplicateRegistration, ScriptNotFound, UnknownLanguage
from emailactions.registry import Registry
from emailactions.scripting.base import Console, ScriptLanguage, ScriptLimits, ScriptRun

if TYPE_CHECKING:  # pragma: no cover
    from emailactions.host import ActionHost

__all__ = ["Scripting"]


class Scripting:
    """The ``register_script_languages`` registry of one host, and ``run``."""

    def __init__(self, host: "ActionHost") -> None:
        self.host = host
        #: language name -> (ScriptLanguage subclass, plugin that registered it)
        self.language_classes: Registry[type[ScriptLanguage]] = Registry("script language", base=ScriptLanguage)
        #: ".js" -> language name
        self.extensions: dict[str, str] = {}
        self._languages: dict[str, ScriptLanguage] = {}
        self._lock = threading.Lock()
        host.hook.register_script_languages(register=self._add)

    def _add(self, name: str, cls: type[ScriptLanguage] | str, plugin: str = "") -> None:
        self.language_classes.add(name, cls, plugin, language=name)
        # A file extension picks one language: a second claim is a collision too.
        for ext in self.language_classes.value(name).extensions:
            ext = ext.lower()
            if self.extensions.setdefault(ext, name) != name:
                owner = self.extensions[ext]
                raise DuplicateRegistration(
                    f"File extension {ext!r} is claimed by language {owner!r} ({self.language_classes.plugin(owner)!r}) "
                    f"and {name!r} ({plugin!r})",
                    language=name,
                    plugin=plugin,
                )

    def language(self, name: str) -> ScriptLanguage:
        """The (one per host) instance of language ``name``."""
        if name not in self.language_classes:
            raise UnknownLanguage(
                f"Unknown script language {name!r}; known: {', '.join(sorted(self.language_classes))}", language=name
            )
        with self._lock:
            if name not in self._languages:
                self._languages[name] = self.language_classes.value(name)()
            return self._languages[name]

    def close(self) -> None:
        """Close every language made so far (the host's ``close`` calls this)."""
        with self._lock:
            languages = list(self._languages.values())
        for language in languages:
            language.close()

    def _by_extension(self, path: Path) -> str | None:
        """The language whose longest extension ends the file name (".request.json" beats ".json")."""
        name = path.name.lower()
        matches = [ext for ext in self.extensions if name.endswith(ext)]
        return self.extensions[max(matches, key=len)] if matches else None

    def resolve(self, script: str | os.PathLike[str], language: str | None) -> tuple[str, str, str]:
        """(source, filename, language name) for a path or a source text.

        A path object is a path. A string is a path when it is one line that
        names an existing file or ends in a registered extension (so a typo
        in a file name is a 404, not a script made of the file name);
        anything else is source text, which needs ``language``.
        """
        path: Path | None = None
        if isinstance(script, os.PathLike):
            path = Path(script)
        elif isinstance(script, str) and "\n" not in script and script.strip():
            candidate = Path(script)
            if self._by_extension(candidate) is not None or candidate.is_file():
                path = candidate
        elif not isinstance(script, str):
            raise UnknownLanguage(f"A script is a path or a source string, not {type(script).__name__}")
        if path is None:
            if language is None:
                raise UnknownLanguage("Script source text needs language= (known: " + ", ".join(sorted(self.language_classes)) + ")")
            return str(script), "<script>", language
        if language is None:
            language = self._by_extension(path)
            if language is None:
                raise UnknownLanguage(
                    f"No script language handles {path.suffix or 'files without an extension'!r} ({path}); "
                    f"give language= (known: {', '.join(sorted(self.language_classes))})",
                    script=str(path),
                )
        try:
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScriptNotFound(f"Script not found: {str(path)!r}", script=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptNotFound(f"Cannot read script {str(path)!r}: {exc}", script=str(path)) from None
        return source, str(path), language

    def run(
        self,
        script: str | os.PathLike[str],
        *,
        language: str | None = None,
        globals: Mapping[str, Any] | None = None,
        accept_language: str | None = None,
        wait_for_completion: bool = True,
        caller: str | None = None,
        properties: Mapping[str, Any] | None = None,
        console: Console | None = None,
        limits: ScriptLimits | None = None,
    ) -> Any:
        """Run a script file or source text; return its result (see ``ScriptLanguage.run``)."""
        source, filename, name = self.resolve(script, language)
        engine = self.language(name)
        run = ScriptRun(
            self.host,
            filename=filename,
            language=name,
            limits=limits or ScriptLimits(),
            accept_language=accept_language,
            wait_for_completion=wait_for_completion,
            caller=caller,
            properties=properties,
            console=console,
            globals=globals,
        )
        return engine.run(source, run)
