#!/usr/bin/env python3
"""A real HTTP receiver for the effector tests, on loopback only.

POST /hook        checks X-Custos-Signature = "v1=" + hex(HMAC-SHA256(secret,
                  X-Custos-Timestamp + "." + body)) and the timestamp's age;
                  answers 401 when the signature is wrong.
POST /key/block   the LiteLLM proxy's admin API: needs "Authorization: Bearer
POST /key/unblock TOKEN" and a JSON body {"key": ...}.
Every request is appended to --log as one JSON line (with the verdict), so
the test can count attempts. --fail N answers 500 to the first N requests
(-1: always).
"""
import argparse
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--secret", default="")
ap.add_argument("--token", default="")
ap.add_argument("--fail", type=int, default=0)
args = ap.parse_args()
served = 0


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        global served
        served += 1
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        rec = {"path": self.path, "n": served}
        status = 200
        if args.fail < 0 or served <= args.fail:
            status = 500
            rec["verdict"] = "injected failure"
        elif self.path == "/hook":
            ts = self.headers.get("X-Custos-Timestamp", "")
            sig = self.headers.get("X-Custos-Signature", "")
            want = "v1=" + hmac.new(args.secret.encode(), ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
            fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
            rec["sig_ok"] = hmac.compare_digest(sig, want) and fresh
            rec["action"] = self.headers.get("X-Custos-Action")
            if not rec["sig_ok"]:
                status = 401
        elif self.path in ("/key/block", "/key/unblock"):
            auth = self.headers.get("Authorization", "")
            rec["auth_ok"] = hmac.compare_digest(auth, "Bearer " + args.token)
            if not rec["auth_ok"]:
                status = 401
        else:
            status = 404
        try:
            rec["body"] = json.loads(body)
        except ValueError:
            rec["body"] = body.decode(errors="replace")
        rec["status"] = status
        with open(args.log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok":%s}' % (b"true" if status == 200 else b"false"))


srv = HTTPServer(("127.0.0.1", 0), H)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
