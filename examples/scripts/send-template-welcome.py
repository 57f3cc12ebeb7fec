# IDM's sendTemplate example in Python: the "welcome" template of conf/, in French.
openidm.action("external/email", "sendTemplate", {
    "templateName": "welcome",
    "to": "hgale815@example.com",
    "_locale": "fr",
    "object": {"userName": "hgale815", "givenName": "Hilda", "sn": "Gale", "mail": "hgale815@example.com"},
})
