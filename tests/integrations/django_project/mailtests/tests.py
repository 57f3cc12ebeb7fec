"""Run by Django's test runner: its capture keeps working, and the backend sends for real."""

from __future__ import annotations

import tempfile
from email.mime.image import MIMEImage
from pathlib import Path

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.core import mail
from django.test import SimpleTestCase, TestCase, override_settings

from emailactions import ConnectError, InvalidParams
from emailactions.integrations import django as integration
from support.smtp_server import SMTPServer, free_port

BACKEND = "emailactions.integrations.django.EmailBackend"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def smtp_config(port: int, **extra: object) -> dict[str, object]:
    return {
        "email": {"from": "noreply@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": port, "timeout": 5}},
        "rate_limits": {"enabled": False},
        **extra,
    }


class DjangoRunnerStillCaptures(TestCase):
    """The project sets our backend; under the test runner mail lands in ``mail.outbox``."""

    def test_the_runner_swaps_our_backend_for_locmem(self) -> None:
        import settings as project

        self.assertEqual(project.EMAIL_BACKEND, BACKEND)
        self.assertEqual(settings.EMAIL_BACKEND, "django.core.mail.backends.locmem.EmailBackend")
        self.assertEqual(mail.send_mail("Hi", "Body", None, ["bjensen@example.com"]), 1)
        self.assertEqual([m.subject for m in mail.outbox], ["Hi"])

    def test_password_reset_is_captured(self) -> None:
        User.objects.create_user("bjensen", "bjensen@example.com", "pw")
        form = PasswordResetForm({"email": "bjensen@example.com"})
        self.assertTrue(form.is_valid())
        form.save(domain_override="example.com")
        self.assertEqual(mail.outbox[0].to, ["bjensen@example.com"])


class ThroughEmailActions(TestCase):
    """With ``EMAIL_BACKEND`` ours again, Django's calls reach a real SMTP server."""

    server: SMTPServer
    ours: override_settings

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.server = SMTPServer().start()
        cls.ours = override_settings(EMAIL_BACKEND=BACKEND, EMAILACTIONS={"config": smtp_config(cls.server.port)})
        cls.ours.enable()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.ours.disable()
        cls.server.stop()
        super().tearDownClass()

    def setUp(self) -> None:
        self.server.messages.clear()

    def test_send_mail(self) -> None:
        self.assertEqual(mail.send_mail("Hello", "Plain body", None, ["bjensen@example.com"]), 1)
        (received,) = self.server.messages
        self.assertEqual(received.rcpt_tos, ["bjensen@example.com"])
        self.assertEqual(received.mail_from, "noreply@example.com")
        self.assertEqual(str(received.message["From"]), "Example <noreply@example.com>")
        self.assertEqual(received.message.get_body(("plain",)).get_content().strip(), "Plain body")
        self.assertEqual(mail.outbox, [])  # not Django's locmem: ours

    def test_multi_alternatives_with_attachments_cc_bcc_reply_to_and_headers(self) -> None:
        message = mail.EmailMultiAlternatives(
            "Report", "Text version", "Reports <reports@example.com>", ["a@example.com"],
            cc=["b@example.com"], bcc=["audit@example.com"], reply_to=["help@example.com"],
            headers={"List-Id": "<reports.example.com>"},
        )  # fmt: skip
        message.attach_alternative("<p>HTML version <img src='cid:logo'></p>", "text/html")
        message.attach("report.csv", "a,b\n1,2\n", "text/csv")
        logo = MIMEImage(PNG, "png")
        logo.add_header("Content-ID", "<logo>")
        message.attach(logo)
        self.assertEqual(message.send(), 1)
        (received,) = self.server.messages
        parsed = received.message
        self.assertEqual(received.rcpt_tos, ["a@example.com", "b@example.com", "audit@example.com"])
        self.assertIsNone(parsed["Bcc"])
        self.assertEqual((str(parsed["Cc"]), str(parsed["Reply-To"])), ("b@example.com", "help@example.com"))
        self.assertEqual(str(parsed["List-Id"]), "<reports.example.com>")
        self.assertIn("HTML version", parsed.get_body(("html",)).get_content())
        self.assertEqual(parsed.get_body(("plain",)).get_content().strip(), "Text version")
        parts = {p.get_content_type(): p for p in parsed.walk() if not p.is_multipart()}
        self.assertEqual(parts["text/csv"].get_filename(), "report.csv")
        self.assertEqual(parts["text/csv"].get_payload(decode=True), b"a,b\n1,2\n")
        self.assertEqual((parts["image/png"]["Content-ID"], parts["image/png"].get_payload(decode=True)), ("<logo>", PNG))

    def test_mail_admins(self) -> None:
        mail.mail_admins("Disk full", "90% used", html_message="<p>90% used</p>")
        (received,) = self.server.messages
        self.assertEqual((received.mail_from, received.rcpt_tos), ("django@example.com", ["ops@example.com"]))
        self.assertEqual(str(received.message["Subject"]), "[Django] Disk full")

    def test_password_reset_form(self) -> None:
        User.objects.create_user("bjensen", "bjensen@example.com", "pw")
        form = PasswordResetForm({"email": "bjensen@example.com"})
        self.assertTrue(form.is_valid())
        form.save(domain_override="example.com", html_email_template_name="registration/password_reset_email_rich.html")
        (received,) = self.server.messages
        parsed = received.message
        self.assertEqual(str(parsed["Subject"]), "Password reset on example.com")
        self.assertIn("http://example.com/reset/", parsed.get_body(("plain",)).get_content())
        self.assertIn('<a href="http://example.com/reset/', parsed.get_body(("html",)).get_content())

    def test_a_refused_header_is_an_error_naming_it_and_nothing_is_sent(self) -> None:
        def message() -> mail.EmailMessage:
            return mail.EmailMessage("Hi", "Body", None, ["a@example.com"], headers={"X-Mailer": "mine"})

        with self.assertRaises(InvalidParams) as refused:
            message().send()
        self.assertTrue(refused.exception.param.startswith("headers"))
        self.assertEqual(message().send(fail_silently=True), 0)
        self.assertEqual(self.server.messages, [])

    def test_wait_false_queues_in_the_outbox_file_then_a_drain_delivers(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            outbox = {"path": str(Path(folder) / "outbox.sqlite3"), "autostart": False}
            options = {"config": smtp_config(self.server.port, outbox=outbox), "wait": False}
            with override_settings(EMAILACTIONS=options):
                self.assertEqual(mail.send_mail("Queued", "Later", None, ["a@example.com"]), 1)
                host = integration.host()
                self.assertEqual(host.action("external/email/outbox", "list")["counts"]["queued"], 1)
                self.assertEqual(self.server.messages, [])
                host.action("external/email/outbox", "drain")
                self.assertEqual([str(m.message["Subject"]) for m in self.server.messages], ["Queued"])
                host.close()

    def test_get_connection_wait_overrides_the_setting(self) -> None:
        backend = mail.get_connection(BACKEND, wait=False)
        self.assertFalse(backend.wait)
        self.assertTrue(mail.get_connection(BACKEND).wait)


class FailSilently(SimpleTestCase):
    """Nothing listens at the relay's port: an error, or nothing when asked to fail silently."""

    def test_fail_silently(self) -> None:
        config = smtp_config(free_port(), outbox={"sync_deadline": 0})
        with override_settings(EMAIL_BACKEND=BACKEND, EMAILACTIONS={"config": config}):
            self.assertEqual(mail.send_mail("Hi", "Body", None, ["a@example.com"], fail_silently=True), 0)
            with self.assertRaises(ConnectError):
                mail.send_mail("Hi", "Body", None, ["a@example.com"])

    def test_unknown_option_is_refused(self) -> None:
        from django.core.exceptions import ImproperlyConfigured

        with override_settings(EMAIL_BACKEND=BACKEND, EMAILACTIONS={"conf": "typo"}):
            with self.assertRaises(ImproperlyConfigured):
                mail.send_mail("Hi", "Body", None, ["a@example.com"])
