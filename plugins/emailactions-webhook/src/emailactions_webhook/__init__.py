"""emailactions-webhook: POST each finished message to an HTTP endpoint as JSON.

A complete third-party transport in one file, as an ESP's HTTP API plugin
would be: options from config, one result per message, errors mapped to
emailactions' TransportError family at this boundary.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

from emailactions import BaseTransport, ConfigError, ConnectError, Message, SendResult, TransportError, hookimpl


class WebhookTransport(BaseTransport):
    """``backend = "webhook"``, ``url = "https://..."``, optional ``token`` and ``timeout``."""

    name = "webhook"

    def __init__(self, *, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        super().__init__()
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError("Option 'url' must be an http(s) URL", key="url")
        self.url, self._token, self.timeout = url, token, float(timeout)

    def send(self, message: Message) -> SendResult:
        payload = {
            "messageId": message.message_id,
            "from": message.sender,
            "to": list(message.recipients),
            "raw": base64.b64encode(message.data).decode("ascii"),
        }
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(65536).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            # A 4xx will be answered the same way every time (bad token, bad
            # payload): fail at once rather than retry for days. 408 and 429
            # ask us to come back, as a 5xx may go away: those stay temporary.
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise TransportError(
                f"Webhook answered {exc.code}", transport=self.alias, status=exc.code, permanent=permanent
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ConnectError(f"Webhook unreachable: {exc}", transport=self.alias) from exc
        return self.result(message, response=body)


@hookimpl
def register_transports(register):
    register("webhook", WebhookTransport)
