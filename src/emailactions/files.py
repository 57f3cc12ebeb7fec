"""Durable file writes shared by the file transport and the folder template store."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path



def atomic_write(path: Path, data: bytes, *, exclusive: bool = False, new_mode: int = 0o644) -> None:
    """Write ``data`` so readers see the old file or the new one, never half of one.

    Written to a temporary file, flushed to disk, then renamed. With ``exclusive``,
    raise FileExistsError if ``path`` exists, atomically (a hard link refuses to
    replace; filesystems without links fall back to a check). A replaced file
    keeps its mode; a new one gets ``new_mode`` (0o600 for files holding secrets).
    """
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = new_mode
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:
                if path.exists():
                    raise FileExistsError(path) from None
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    # The rename is durable once the directory entry is on disk (POSIX only).
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)

