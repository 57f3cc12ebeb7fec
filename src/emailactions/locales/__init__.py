"""Locales: IDM's resolution order over tags (``tags``), and CLDR formatting for templates (``formatting``)."""
