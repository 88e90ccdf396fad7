#!/usr/bin/python3
"""A CloudWatch stand-in for perfwatchd's tests: GetMetricData over the AWS
JSON 1.0 protocol on 127.0.0.1, every request's SigV4 signature checked with
botocore's own signer.

    cloudwatch-standin.py PORT [--access-key K --secret S --region R
                                --session-token T --page-size N --ramp-step S]

Credentials default to $STANDIN_ACCESS_KEY / $STANDIN_SECRET.  Valid requests
get a capacity ramp: ServerlessDatabaseCapacity is 2 ACU until RAMP_START
(16 ramp steps before the stand-in started), then one ACU more per ramp step,
up to 16; ACUUtilization is that as a percentage of 16.  With --page-size, at
most N datapoints per series go in one answer, the rest behind NextToken.

Control (for tests): POST /_control?mode=ok|500|malformed|hang|forbidden|echo
[&delay=SECONDS][&session_token=T] changes how later requests are answered
(echo: a 400 whose message quotes the request's Authorization header and
session token);
GET /_stats gives counters and the last verification result as JSON.  Every
request is logged on stderr, one line each ("verified ..." / "rejected ...").
"""

import argparse
import datetime
import hmac
import json
import math
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET = "GraniteServiceVersion20100801.GetMetricData"
SERVICE = "monitoring"
MAX_SKEW = 15 * 60
METRICS = {"ServerlessDatabaseCapacity", "ACUUtilization"}


class SignatureError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...' -> dict."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise SignatureError("IncompleteSignatureException",
                             f"Unsupported signing algorithm '{algorithm}'")
    fields = {}
    for part in rest.split(","):
        key, _, val = part.strip().partition("=")
        fields[key] = val
    for key in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(key):
            raise SignatureError("IncompleteSignatureException",
                                 f"Authorization header requires '{key}' parameter.")
    return fields


def verify_signature(state, method, path, headers, body):
    """Rebuilds the request from exactly the signed headers and lets
    botocore's SigV4Auth compute the signature it would have sent."""
    auth_header = headers.get("Authorization")
    if not auth_header:
        raise SignatureError("MissingAuthenticationTokenException",
                             "Request is missing Authentication Token")
    fields = parse_authorization(auth_header)
    access_key, date, region, service, term = (fields["Credential"].split("/") + [""] * 5)[:5]
    if access_key != state.access_key:
        raise SignatureError("UnrecognizedClientException",
                             "The security token included in the request is invalid.")
    if (region, service, term) != (state.region, SERVICE, "aws4_request"):
        raise SignatureError("SignatureDoesNotMatch",
                             f"Credential should be scoped to a valid region/service: {fields['Credential']}")
    amz_date = headers.get("X-Amz-Date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise SignatureError("IncompleteSignatureException", "X-Amz-Date is missing or malformed")
    if abs(time.time() - when.timestamp()) > MAX_SKEW or date != amz_date[:8]:
        raise SignatureError("SignatureDoesNotMatch", "Signature expired or date out of scope")

    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            raise SignatureError("SignatureDoesNotMatch", f"'{required}' must be a signed header")
    if state.session_token is not None:
        if headers.get("X-Amz-Security-Token") != state.session_token:
            raise SignatureError("UnrecognizedClientException",
                                 "The security token included in the request is invalid.")
        if "x-amz-security-token" not in signed:
            raise SignatureError("SignatureDoesNotMatch",
                                 "X-Amz-Security-Token must be a signed header")

    rebuilt = {}
    for name in signed:
        values = headers.get_all(name)
        if values is None:
            raise SignatureError("SignatureDoesNotMatch", f"signed header '{name}' is missing")
        rebuilt[name] = ",".join(values)
    request = AWSRequest(method=method, url=f"http://{headers.get('Host')}{path}",
                         data=body, headers=rebuilt)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(state.access_key, state.secret, state.session_token),
                       SERVICE, state.region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise SignatureError("SignatureDoesNotMatch",
                             "The request signature we calculated does not match the signature "
                             "you provided. Check your AWS Secret Access Key and signing method. "
                             "Consult the service documentation for details.")
    return signed


def ramp_value(state, t):
    steps = math.floor((t - state.ramp_start) / state.ramp_step)
    return float(min(16, max(2, 2 + steps)))


def series(state, query, start, end):
    stat = query["MetricStat"]
    metric = stat["Metric"]
    period = int(stat["Period"])
    if metric.get("Namespace") != "AWS/RDS" or metric.get("MetricName") not in METRICS:
        return [], []
    dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    if "DBClusterIdentifier" not in dims or period < 1:
        return [], []
    t = start - start % period
    if t < start:
        t += period
    stamps, values = [], []
    while t < end:
        acu = ramp_value(state, t)
        stamps.append(t)
        values.append(acu if metric["MetricName"] == "ServerlessDatabaseCapacity" else acu / 16 * 100)
        t += period
    return stamps, values


def metric_data(state, req):
    start, end = int(req["StartTime"]), int(req["EndTime"])
    offset = int(req.get("NextToken") or 0)
    results, more = [], False
    for query in req["MetricDataQueries"]:
        stamps, values = series(state, query, start, end)
        if req.get("ScanBy") == "TimestampDescending":
            stamps.reverse()
            values.reverse()
        n = state.page_size or len(stamps)
        more = more or offset + n < len(stamps)
        results.append({"Id": query["Id"], "Label": query["MetricStat"]["Metric"]["MetricName"],
                        "Timestamps": stamps[offset:offset + n], "Values": values[offset:offset + n],
                        "StatusCode": "PartialData" if offset + n < len(stamps) else "Complete"})
    answer = {"MetricDataResults": results, "Messages": []}
    if more:
        answer["NextToken"] = str(offset + (state.page_size or 0))
    return answer


class State:
    def __init__(self, args):
        self.access_key = args.access_key
        self.secret = args.secret
        self.region = args.region
        self.session_token = args.session_token
        self.page_size = args.page_size
        self.ramp_step = args.ramp_step
        self.ramp_start = time.time() - 16 * args.ramp_step
        self.mode = "ok"
        self.delay = 0.0
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "verified": 0, "rejected": 0, "last": "",
                      "last_signed_headers": ""}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudwatch-standin"

    def log_message(self, fmt, *args):
        pass

    def note(self, line):
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        sys.stderr.flush()

    def send_json(self, code, obj, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, code, error_type, message):
        self.send_json(code, {"__type": f"com.amazon.coral.service#{error_type}", "message": message})

    def do_GET(self):
        state = self.server.state
        if urlsplit(self.path).path == "/_stats":
            with state.lock:
                self.send_json(200, dict(state.stats, mode=state.mode))
            return
        self.send_error_json(404, "UnknownOperationException", "not found")

    def control(self, query):
        state = self.server.state
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        with state.lock:
            state.mode = q.get("mode", state.mode)
            state.delay = float(q.get("delay", state.delay))
            if "session_token" in q:
                state.session_token = q["session_token"] or None
        self.note(f"control {q}")
        self.send_json(200, {"mode": state.mode})

    def do_POST(self):
        state = self.server.state
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path == "/_control":
            self.control(url.query)
            return
        with state.lock:
            state.stats["requests"] += 1
            mode, delay = state.mode, state.delay
        if mode == "hang":
            time.sleep(3600)
        time.sleep(delay)
        try:
            signed = verify_signature(state, "POST", self.path, self.headers, body)
        except SignatureError as e:
            with state.lock:
                state.stats["rejected"] += 1
                state.stats["last"] = f"rejected: {e.error_type}"
            self.note(f"rejected {e.error_type}: {e.message}")
            self.send_error_json(403, e.error_type, e.message)
            return
        with state.lock:
            state.stats["verified"] += 1
            state.stats["last"] = "verified"
            state.stats["last_signed_headers"] = ";".join(signed)
        self.note(f"verified signature of {state.access_key}, signed headers {';'.join(signed)}")
        self.answer(mode, body)

    def answer(self, mode, body):
        if self.headers.get("X-Amz-Target") != TARGET:
            self.send_error_json(400, "UnknownOperationException",
                                 f"unknown X-Amz-Target {self.headers.get('X-Amz-Target')!r}")
        elif mode == "500":
            self.send_error_json(500, "InternalServiceError", "stand-in told to fail")
        elif mode == "forbidden":
            self.send_error_json(403, "AccessDeniedException",
                                 "User is not authorized to perform: cloudwatch:GetMetricData")
        elif mode == "echo":
            # A careless upstream (or proxy) that quotes the request's
            # credentials back in its error text.
            self.send_error_json(400, "InvalidSignatureException",
                                 "canonical request POST / X-Amz-Security-Token="
                                 f"{self.headers.get('X-Amz-Security-Token')}; "
                                 f"Authorization: {self.headers.get('Authorization')}")
        elif mode == "malformed":
            self.send_json(200, None, raw=b'{"MetricDataResults": [{"Id": "acu", ')
        else:
            try:
                req = json.loads(body)
                answer = metric_data(self.server.state, req)
            except (ValueError, KeyError, TypeError) as e:
                self.send_error_json(400, "InvalidParameterValueException", f"bad request: {e}")
                return
            self.send_json(200, answer)


def main():
    ap = argparse.ArgumentParser(description="CloudWatch GetMetricData stand-in")
    ap.add_argument("port", type=int)
    ap.add_argument("--access-key", default=os.environ.get("STANDIN_ACCESS_KEY", "AKIDSTANDIN"))
    ap.add_argument("--secret", default=os.environ.get("STANDIN_SECRET", "standin/secret+key"))
    ap.add_argument("--region", default="eu-west-1")
    ap.add_argument("--session-token", default=None)
    ap.add_argument("--page-size", type=int, default=0)
    ap.add_argument("--ramp-step", type=float, default=60.0)
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    sys.stderr.write(f"listening on 127.0.0.1:{args.port}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
