"""The Django backend, tested by Django's own test runner in a small project (a subprocess:
Django's settings are process-wide)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "django_project"
TESTS = PROJECT.parents[1]


def test_django_runner_passes_the_projects_mail_tests():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), str(TESTS)])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("EMAILACTIONS_CONFIG", None)
    run = subprocess.run(
        [sys.executable, "-m", "django", "test", "--settings=settings", "-v", "2"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "Ran 11 tests" in report and "\nOK" in report, report
    for name in ("test_send_mail", "test_mail_admins", "test_password_reset_form", "test_password_reset_is_captured",
                 "test_multi_alternatives_with_attachments_cc_bcc_reply_to_and_headers",
                 "test_wait_false_queues_in_the_outbox_file_then_a_drain_delivers", "test_fail_silently"):  # fmt: skip
        assert re.search(rf"^{name} \(.*\) \.\.\. ok$", report, re.M), (name, report)
