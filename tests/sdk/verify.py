"""Verifies a webhook `hookwire send` delivered, with the provider's official SDK,
for tests/it/send.rs.

Usage: python3 verify.py SCHEME SECRET URL < request.json
request.json is the request as the test's app received it:
  {"method": "POST", "target": "/path?q=1", "headers": [[name, value], ...],
   "body_base64": "..."}
URL is the exact --to URL the request was sent to (Twilio signs over it).

Exit 0 when the signature is valid; 1 when the SDK rejects it; 2 when a header
the scheme needs is missing or repeated, or the input is unusable; 3 when a
Stripe signature is valid but the payload is no JSON event. The reason
goes to stderr.
"""
import base64
import hashlib
import hmac
import json
import sys
import urllib.parse

scheme, secret, url = sys.argv[1], sys.argv[2], sys.argv[3]
request = json.load(sys.stdin)
body = base64.b64decode(request["body_base64"])
headers = [(name.lower(), value) for name, value in request["headers"]]


def rejected(why):
    sys.exit(f"{scheme}: signature rejected by the SDK: {why}")


def header(name):
    """The one value of a header the scheme needs (exit 2 when absent or repeated)."""
    values = [v for n, v in headers if n == name]
    if len(values) != 1:
        print(f"{scheme}: expected exactly one {name} header, got {values!r}", file=sys.stderr)
        sys.exit(2)
    return values[0]


if scheme == "standard-webhooks":
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    needed = {n: header(n) for n in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    try:
        Webhook(secret).verify(body, needed)
    except WebhookVerificationError as e:
        rejected(e)
elif scheme == "stripe":
    import stripe

    sig_header = header("stripe-signature")
    try:
        stripe.Webhook.construct_event(body.decode("utf-8"), sig_header, secret)
    except stripe.SignatureVerificationError as e:
        rejected(e)
    except ValueError as e:
        # construct_event parses the payload only after the signature matched.
        print(f"stripe: signature valid but the payload is not a JSON event: {e}", file=sys.stderr)
        sys.exit(3)
elif scheme == "slack":
    from slack_sdk.signature import SignatureVerifier

    timestamp = header("x-slack-request-timestamp")
    signature = header("x-slack-signature")
    if not SignatureVerifier(secret).is_valid(body, timestamp, signature):
        rejected(f"is_valid() is False (timestamp {timestamp}, signature {signature})")
elif scheme == "twilio":
    from twilio.request_validator import RequestValidator

    class MultiDict(dict):
        """Repeated form fields, as web frameworks hand them to the SDK."""

        def getlist(self, name):
            return self[name]

    signature = header("x-twilio-signature")
    params = MultiDict(urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True))
    if not RequestValidator(secret).validate(url, params, signature):
        rejected(f"validate() is False for URL {url} and params {dict(params)!r}")
elif scheme == "shopify":
    # Shopify ships no verifier in Python; this is its documented computation:
    # base64 of the HMAC-SHA256 of the raw body, compared in constant time.
    signature = header("x-shopify-hmac-sha256")
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(digest, signature):
        rejected(f"x-shopify-hmac-sha256 {signature} != {digest}")
else:
    print(f"unknown scheme {scheme}", file=sys.stderr)
    sys.exit(2)
