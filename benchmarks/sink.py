"""A fast SMTP sink on loopback: Postfix's smtp-sink if installed, else aiosmtpd."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("sink did not start")


@contextmanager
def sink() -> Iterator[tuple[int, str]]:
    """Yield (port, description). Never starts a mail daemon, only the test tool."""
    port = _free_port()
    binary = shutil.which("smtp-sink") or ("/usr/sbin/smtp-sink" if os.path.exists("/usr/sbin/smtp-sink") else None)
    if binary:
        args = [binary]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        proc = subprocess.Popen(args + [f"127.0.0.1:{port}", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(port)
            yield port, "Postfix smtp-sink"
        finally:
            proc.terminate()
            proc.wait()
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.smtp_server import SMTPServer

    server = SMTPServer().start()
    try:
        yield server.port, "aiosmtpd (install Debian's postfix for smtp-sink: figures are limited by this sink)"
    finally:
        server.stop()
