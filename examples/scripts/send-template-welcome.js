// IDM's sendTemplate example: the "welcome" template of conf/, in French.
var params = new Object();
params.templateName = "welcome";
params.to = "hgale815@example.com";
params._locale = "fr";
params.object = {
    "userName": "hgale815",
    "givenName": "Hilda",
    "sn": "Gale",
    "mail": "hgale815@example.com"
};

openidm.action("external/email", "sendTemplate", params);
