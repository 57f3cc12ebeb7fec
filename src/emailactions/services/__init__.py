"""Services: the action handlers behind resources (``external/email``, its outbox), registered as plugins."""
