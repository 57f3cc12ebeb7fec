"""How long a synchronous send takes to fail, with the DEFAULT settings, against hostile relays.

    python benchmarks/failure_times.py

Three relays on loopback: one that accepts TCP and never greets, one whose
certificate comes from a CA the client does not trust (STARTTLS), one that
answers AUTH with 535. The host has default settings (``sync_deadline`` 15 s,
SMTP timeouts of 300 s) except for where the relay is. The first should end
at ``sync_deadline``; the other two at once, because only a config change
fixes them (their errors carry a ``hint`` naming the key).
"""

from __future__ import annotations

import logging
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.smtp_server import USER, HostileServer, SMTPServer  # noqa: E402

from emailactions import ActionHost, EmailActionsError  # noqa: E402


def timed_send(**transport: object) -> tuple[float, EmailActionsError | None]:
    config = {"email": {"from": "openidm@example.com"}, "transports": {"default": {"backend": "smtp", **transport}}}
    with ActionHost(config, load_entry_points=False) as host:
        started = time.monotonic()
        try:
            host.action("external/email", "send", {"to": "bjensen@example.com", "subject": "timing"})
        except EmailActionsError as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None


def report(label: str, elapsed: float, error: EmailActionsError | None) -> None:
    detail = error.to_dict()["detail"] if error else {}
    what = f"{detail.get('kind')} (code {error.code}), attempts={detail.get('attempts')}" if error else "sent (unexpected)"
    print(f"{label:<34} {elapsed:7.3f} s   {what}")
    if detail.get("hint"):
        print(f"{'':<34} hint: {detail['hint']}")


def main() -> None:
    import trustme

    logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # aiosmtpd's traceback for the refused handshake
    print(f"synchronous send, default settings (Python {sys.version.split()[0]})")
    with HostileServer("silent") as relay:
        report("(a) relay that never greets", *timed_send(host="127.0.0.1", port=relay.port))

    ca = trustme.CA()  # the relay's CA: trusted in (c) through ca_file, unknown in (b)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    server = SMTPServer(starttls=ctx, auth=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = str(Path(tmp) / "ca.pem")
        ca.cert_pem.write_to_path(ca_file)
        try:
            relay = {"host": "localhost", "port": server.port, "starttls": True}
            report("(b) untrusted certificate", *timed_send(**relay))
            report("(c) AUTH answered with 535", *timed_send(**relay, ca_file=ca_file, username=USER, password="wrong"))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
