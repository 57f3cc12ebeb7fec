// IDM's sendTemplate example whose template renders {{object.givenName}}.
// A failed action throws an error carrying IDM's code and message.
try {
    var result = openidm.action("external/email", "sendTemplate", {
        templateName: "hello",
        to: "hgale815@example.com",
        object: { givenName: "Hilda", sn: "Gale", created: "2024-03-01" }
    });
    logger.info("hello sent to {} in {}", "hgale815@example.com", result.locale);
    result;
} catch (e) {
    logger.error("sendTemplate failed: {} {}", e.code, e.message);
    throw e;
}
