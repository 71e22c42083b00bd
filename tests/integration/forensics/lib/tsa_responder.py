#!/usr/bin/env python3
"""A tiny RFC 3161 time-stamping authority for the tests: answers a POSTed
TimeStampReq (application/timestamp-query) with `openssl ts -reply`.

usage: tsa_responder.py DIR PORTFILE
DIR holds tsa.cnf (the `openssl ts` configuration, section tsa_config1) and
the signer files it names; also other-tsa.pem/other-tsa.key (a TSA of
another CA) and, once the test made them, late-tsa.pem/late-tsa.key (a TSA
whose certificate is not valid yet). Paths: /tsa signs with the TSA, /other
with the other CA's TSA, /late with the not-yet-valid one,
/hang reads the request and never answers, /big answers more bytes than any
cap, /notts answers 200 with bytes that are no time-stamp response. The
port it listens on (loopback, chosen by the kernel) is written to PORTFILE.
"""
import http.server, os, subprocess, sys, tempfile, threading

DIR, PORTFILE = sys.argv[1], sys.argv[2]
NEVER = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("tsa: " + (fmt % args) + "\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path == "/hang":
            NEVER.wait()
            return
        if self.path == "/big":
            self.answer(200, b"\x30" * (1 << 20))
            return
        if self.path == "/notts":
            self.answer(200, b"not a time-stamp response")
            return
        if self.headers.get("Content-Type") != "application/timestamp-query":
            self.answer(415, b"want application/timestamp-query")
            return
        with tempfile.TemporaryDirectory() as t:
            q, r = os.path.join(t, "q.tsq"), os.path.join(t, "r.tsr")
            open(q, "wb").write(body)
            cmd = ["openssl", "ts", "-reply", "-config", os.path.join(DIR, "tsa.cnf"),
                   "-section", "tsa_config1", "-queryfile", q, "-out", r]
            if self.path in ("/other", "/late"):
                name = self.path[1:] + "-tsa"
                cmd += ["-signer", os.path.join(DIR, name + ".pem"),
                        "-inkey", os.path.join(DIR, name + ".key")]
            p = subprocess.run(cmd, cwd=DIR, capture_output=True)
            if p.returncode != 0:
                sys.stderr.write(p.stderr.decode())
                self.answer(500, b"openssl ts -reply failed")
                return
            self.answer(200, open(r, "rb").read())

    def answer(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
