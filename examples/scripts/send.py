# IDM's send example in Python: the same openidm object as JavaScript.
# `emailactions run` gives scripts openidm, action, identityServer, context,
# logger and console, as IDM does; they need no import.
params = {}
params["from"] = "openidm@example.com"
params["to"] = "your_email@example.com"
params["cc"] = "bjensen@example.com,scarter@example.com"
params["subject"] = "OpenIDM recon report"
params["type"] = "text/html"
params["body"] = "<html><body><p>Recon report follows...</p></body></html>"

openidm.action("external/email", "send", params)
