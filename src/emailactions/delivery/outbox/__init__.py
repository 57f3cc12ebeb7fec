"""The durable outbox for ``waitForCompletion=false``: entries, backends (``register_outbox_backends``),
the SQLite table, and the worker threads that deliver from it."""
