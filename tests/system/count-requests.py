#!/usr/bin/python3
# A service for the suite tests (063, 068): answers every GET 200 "ok" and
# appends each request's path to the file SEEN, so a test can tell which
# requests reached it (the pre-flight's GET / only, or load too).
#   count-requests.py PORT SEEN
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, fmt, *args):
        with open(sys.argv[2], "a") as f:
            f.write(self.path + "\n")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
