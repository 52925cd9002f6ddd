#!/usr/bin/env python3
"""A local webhook receiver for the dev stack and the demo: appends every delivered event, one
JSON object per line, to OUT (with the batch id and whether the signature checked out).

  webhook_sink.py PORT OUT [SECRET]
"""
import hashlib
import hmac
import http.server
import json
import sys
import threading

port, out = int(sys.argv[1]), sys.argv[2]
secret = sys.argv[3].encode() if len(sys.argv) > 3 else None
class Server(http.server.ThreadingHTTPServer):
    # A real listen backlog: the default of 5 drops connections when many lanes post at once.
    request_queue_size = 256
    daemon_threads = True


lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        signed = None
        if secret is not None:
            ts = self.headers.get("X-CDP-Timestamp", "")
            expected = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(expected, self.headers.get("X-CDP-Signature", ""))
        try:
            batch = json.loads(body)
        except ValueError:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with lock, open(out, "a") as f:
            for event in batch.get("events", []):
                f.write(json.dumps({"path": self.path, "job": batch.get("job"), "batch_id": batch.get("batch_id"),
                                    "signature_ok": signed, **event}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


Server(("127.0.0.1", port), Handler).serve_forever()
