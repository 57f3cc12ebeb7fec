"""Email templates: the model, its IDM and native file formats, the stores that hold them,
and the service that renders a template for a locale."""
