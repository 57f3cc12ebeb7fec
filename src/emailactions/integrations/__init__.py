"""Framework adapters over the Pythonic API: :mod:`.django` (an ``EMAIL_BACKEND``) and
:mod:`.flask` (an extension). Each imports its framework, so import the one you use."""
