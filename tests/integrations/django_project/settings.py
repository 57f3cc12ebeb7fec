"""A small Django project whose mail goes through emailactions.

Run by tests/integrations/test_django.py with Django's own test runner; by hand::

    cd tests/integrations/django_project && PYTHONPATH=.:../.. python -m django test --settings=settings
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "mailtests"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, for tests only
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [BASE_DIR / "templates"]}]

# The switch: Django's mail now takes emailactions' path (params checks, limits, retries, outbox).
EMAIL_BACKEND = "emailactions.integrations.django.EmailBackend"
EMAILACTIONS = {
    "config": {"email": {"from": "noreply@example.com"}, "transports": {"default": {"backend": "console"}}},
    "wait": True,
}
DEFAULT_FROM_EMAIL = "Example <noreply@example.com>"
SERVER_EMAIL = "django@example.com"
ADMINS = [("Ops", "ops@example.com")]
