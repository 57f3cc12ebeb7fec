"""Sample ``object`` data per template, for the studio's preview and test sends.

Kept in one sidecar file beside the templates, ``.emailactions-studio.json``
in the template folder (or the IDM conf folder): samples travel with the
templates they belong to, yet are not part of them, because IDM's file format
has no place for them and a send must never read them. The leading dot keeps
every folder store from taking the file for a template. With no folder (a
memory or plugin store) samples live in memory.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from emailactions.errors import InvalidParams
from emailactions.files import atomic_write
from emailactions.params.incoming import load_json

FILE_NAME = ".emailactions-studio.json"
#: Largest sample accepted: far more than any template needs.
MAX_SAMPLE_BYTES = 256 * 1024


def parse_sample(text: str) -> dict[str, Any]:
    """The sample as typed in the editor: a JSON object (empty means ``{}``); a 400 naming ``sample`` otherwise."""
    raw = (text or "").strip().encode("utf-8", "surrogatepass")
    if not raw:
        return {}
    value = load_json(raw, "The sample data", "sample", max_bytes=MAX_SAMPLE_BYTES)
    if not isinstance(value, dict):
        raise InvalidParams("The sample data must be a JSON object, like {\"userName\": \"ada\"}", param="sample")
    return value


class Samples:
    """template id -> sample object, in the sidecar file (or in memory)."""

    def __init__(self, folder: Path | None) -> None:
        self.path = folder / FILE_NAME if folder is not None else None
        self._memory: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_host(cls, host: Any) -> "Samples":
        config = host.config
        return cls(config.templates_dir or config.conf_dir)

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return dict(self._memory)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            # A broken sidecar must not lock anyone out of the editor: it is only sample data.
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, template_id: str) -> dict[str, Any]:
        value = self._read().get(template_id)
        return value if isinstance(value, dict) else {}

    def put(self, template_id: str, sample: dict[str, Any] | None) -> None:
        """Store (or with ``None`` forget) one template's sample."""
        with self._lock:
            data = self._read()
            if sample:
                data[template_id] = sample
            else:
                data.pop(template_id, None)
            if self.path is None:
                self._memory = data
            else:
                atomic_write(self.path, (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
