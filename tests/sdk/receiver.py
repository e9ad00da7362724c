"""A correct webhook receiver built on the provider's official SDK, for
tests/it/check.rs: `hookwire check` must grade it PASS, which proves the
events check sends are genuine to the SDK.

Usage: python3 receiver.py SCHEME SECRET
Listens on 127.0.0.1 (a free port), prints "listening PORT", and answers
every POST: 401 when the SDK rejects the signature (or it is missing),
400 when the body is not JSON (Twilio's is a form), else 200.
"""
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

scheme, secret = sys.argv[1], sys.argv[2]


class Rejected(Exception):
    pass


def verify(headers, body, url):
    """Raises Rejected unless the SDK accepts the request."""
    def header(name):
        value = headers.get(name)
        if value is None:
            raise Rejected(f"no {name}")
        return value

    if scheme == "standard-webhooks":
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        needed = {n: header(n) for n in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        try:
            Webhook(secret).verify(body, needed)
        except WebhookVerificationError as e:
            raise Rejected(str(e))
        except ValueError:
            # verify() parses the payload once the signature matched: the
            # parse below says 400.
            pass
    elif scheme == "stripe":
        import stripe

        try:
            stripe.Webhook.construct_event(body.decode("utf-8"), header("stripe-signature"), secret)
        except stripe.SignatureVerificationError as e:
            raise Rejected(str(e))
        except ValueError:
            # The signature matched; the payload is not JSON: the parse below says 400.
            pass
    elif scheme == "slack":
        from slack_sdk.signature import SignatureVerifier

        ok = SignatureVerifier(secret).is_valid(
            body, header("x-slack-request-timestamp"), header("x-slack-signature")
        )
        if not ok:
            raise Rejected("slack signature")
    elif scheme == "twilio":
        from twilio.request_validator import RequestValidator

        class MultiDict(dict):
            def getlist(self, name):
                return self[name]

        params = MultiDict(urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True))
        if not RequestValidator(secret).validate(url, params, header("x-twilio-signature")):
            raise Rejected("twilio signature")
    else:
        raise SystemExit(f"unknown scheme {scheme}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status):
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        url = f"http://{self.headers['host']}{self.path}"
        try:
            verify(self.headers, body, url)
        except Rejected:
            return self.answer(401)
        if scheme != "twilio":
            try:
                json.loads(body)
            except ValueError:
                return self.answer(400)
        self.answer(200)


class Server(ThreadingHTTPServer):
    # survives-burst opens 50 connections at once.
    request_queue_size = 128
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
