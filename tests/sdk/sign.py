"""Signs a test webhook with a provider's official SDK, for tests/it/signatures.rs.

Usage: python3 sign.py SCHEME SECRET URL TIMESTAMP < body
Prints a JSON object of the headers to send with the body. TIMESTAMP is Unix
seconds (lets the test sign stale requests).
"""
import base64
import datetime
import hashlib
import hmac
import json
import sys
import urllib.parse

scheme, secret, url, timestamp = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
body = sys.stdin.buffer.read()
text = body.decode("utf-8")

if scheme == "standard-webhooks":
    from standardwebhooks.webhooks import Webhook

    msg_id = "msg_2Lf8Q0pYx1Z"
    when = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": Webhook(secret).sign(msg_id, when, text),
    }
elif scheme == "stripe":
    from stripe import WebhookSignature

    headers = {"stripe-signature": WebhookSignature.generate_signature_header(text, secret, timestamp)}
elif scheme == "slack":
    from slack_sdk.signature import SignatureVerifier

    headers = {
        "x-slack-request-timestamp": str(timestamp),
        "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=text),
    }
elif scheme == "twilio":
    from twilio.request_validator import RequestValidator

    class MultiDict(dict):
        """Repeated form fields, as web frameworks hand them to the SDK."""

        def getlist(self, name):
            return self[name]

    params = MultiDict(urllib.parse.parse_qs(text, keep_blank_values=True))
    headers = {
        "x-twilio-signature": RequestValidator(secret).compute_signature(url, params),
        "content-type": "application/x-www-form-urlencoded",
    }
elif scheme == "shopify":
    # Shopify ships no signer; this is the documented computation.
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    headers = {"x-shopify-hmac-sha256": base64.b64encode(digest).decode()}
else:
    sys.exit(f"unknown scheme {scheme}")

json.dump(headers, sys.stdout)
