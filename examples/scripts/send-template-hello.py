# The template that renders {{object.givenName}}, through the plain action() function.
from emailactions import EmailActionsError

try:
    result = action("external/email", "sendTemplate", {
        "templateName": "hello",
        "to": "hgale815@example.com",
        "object": {"givenName": "Hilda", "sn": "Gale", "created": "2024-03-01"},
    })
    logger.info("hello sent to {} in {}", "hgale815@example.com", result["locale"])
except EmailActionsError as err:
    logger.error("sendTemplate failed: {} {}", err.code, err.message)
    raise

result
