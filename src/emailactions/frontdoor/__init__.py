"""``emailactions smtp-serve``: an SMTP submission front door over an ActionHost.

Applications that only speak SMTP submit through it and get the project's
policies: the ``[server]`` identities, their sender rules, the checks ``send``
makes, the rate limits, and the outbox (a message is committed before the
``250``). Like the REST server it is a door, not core: core never imports it.
Importing this package imports nothing heavy; :mod:`.server` loads aiosmtpd.
"""
