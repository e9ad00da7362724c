"""A local app the way many dev servers are: Python's stock http.server,
answering every request with 200 and a small JSON body. BaseHTTPRequestHandler
writes the response head and the body in two writes with Nagle's algorithm on
(it sets no TCP_NODELAY), so a client that delays its ACK stalls each answer.

Usage: python3 http_server_app.py PORT_FILE [HTTP/1.0|HTTP/1.1]
Listens on a free loopback port, writes it to PORT_FILE, serves until killed.
HTTP/1.1 (the default here; `python -m http.server --protocol HTTP/1.1`)
keeps connections alive, which is where delayed ACKs bite: a fresh
connection starts in quick-ACK mode, a kept-alive one does not.
GET /count answers how many other requests arrived.
"""

import http.server
import sys

import threading

count = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/count":
            self.answer(str(count).encode())
        else:
            self.do_POST()

    def do_POST(self):
        global count
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        with lock:
            count += 1
        self.answer(b'{"app":"ok"}')

    def answer(self, body):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()  # first write: the head
        self.wfile.write(body)  # second write: the body

    def log_message(self, *args):
        pass


Handler.protocol_version = sys.argv[2] if len(sys.argv) > 2 else "HTTP/1.1"
# Threading, as `python -m http.server` runs it.
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
