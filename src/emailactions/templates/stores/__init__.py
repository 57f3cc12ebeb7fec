"""Template stores: where templates live. Each is a plugin (``register_template_stores``)."""
