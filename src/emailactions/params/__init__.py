"""Action params -> typed requests. The only package that knows IDM's param names and aliases;
every refusal is an ``InvalidParams`` (400) naming the param, raised before any side effect."""
