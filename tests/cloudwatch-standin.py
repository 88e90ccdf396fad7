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
GET /_stats gives counters, the last verification result and the capacity
shape as JSON.

Capacity shapes (for the ACU criterion's tests), also through POST /_control;
each applies to later requests and replaces the previous shape; a bad value
is a 400 naming it, and nothing changes:
  capacity=ramp            the default ramp above (max= and ramp_step= kept)
  max=N                    the default ramp rises to N ACU instead of 16
                           (e.g. 20, beyond a max_acu of 16), reaching it
                           now: 2 ACU until N ramp steps ago
  ramp_step=SECONDS        the ramp's step (as --ramp-step), likewise
  stuck=V                  V ACU at every time
  capacity=V1,V2,...[@STEP][&start=EPOCH][&before=V|none][&after=V|none]
                           one value per STEP seconds (default 60) from
                           `start` (epoch seconds, default now): V1 over
                           [start, start + STEP), V2 over the next step, ...;
                           before `start` the value `before` (default V1),
                           after the last step `after` (default the last
                           value); "none" means no datapoint there
  body {"points": [[EPOCH, V], ...]}
                           exactly these datapoints (any timestamps, not
                           aligned to the period), nothing else
  gap=FROM-TO              no datapoint with FROM <= timestamp < TO (epoch
                           seconds), whatever the shape; gap= clears it
  lag=SECONDS              no datapoint newer than now - SECONDS, as
                           CloudWatch publishes a minute's datapoint 1-3
                           minutes late (default 0)
e.g. curl -X POST '.../_control?capacity=2,4,8,16@60&start=1796133600&after=none'
     curl -X POST -d '{"points": [[1796133600, 2], [1796133660, 16]]}' .../_control
The datapoints are stamped at multiples of the query's Period (but for
"points"); ACUUtilization follows the shape as a percentage of 16.  Every
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


class ControlError(Exception):
    pass


def number(name, text):
    try:
        v = float(text)
    except ValueError:
        raise ControlError(f"{name}: {text!r} is not a number")
    if not math.isfinite(v):
        raise ControlError(f"{name}: {text!r} is not a finite number")
    return v


class Shape:
    """ServerlessDatabaseCapacity over time: value(t) is the ACU at epoch
    second t, or None for no datapoint; points, when set, are the only
    datapoints."""

    def __init__(self, kind="ramp", values=None, start=0.0, step=60.0, before=None, after=None,
                 points=None, text="ramp"):
        self.kind, self.values, self.start, self.step = kind, values, start, step
        self.before, self.after, self.points, self.text = before, after, points, text

    def value(self, state, t):
        if self.kind == "ramp":
            steps = math.floor((t - state.ramp_start) / state.ramp_step)
            return float(min(state.ramp_max, max(2, 2 + steps)))
        if self.kind == "points":
            return self.points.get(t)
        if t < self.start:
            return self.before
        i = math.floor((t - self.start) / self.step)
        return self.values[i] if i < len(self.values) else self.after


def optional_value(name, text):
    return None if text == "none" else number(name, text)


def parse_script(q, now):
    """capacity=V1,V2,...[@STEP] with start=, before=, after= -> Shape."""
    spec = q["capacity"]
    values_text, _, step_text = spec.partition("@")
    step = number("capacity step", step_text) if step_text else 60.0
    if step <= 0:
        raise ControlError(f"capacity step: {step_text!r} is not positive")
    values = [number("capacity", v) for v in values_text.split(",")]
    start = number("start", q["start"]) if "start" in q else now
    before = optional_value("before", q["before"]) if "before" in q else values[0]
    after = optional_value("after", q["after"]) if "after" in q else values[-1]
    return Shape("script", values, start, step, before, after, text=f"script {spec} from {start:.0f}")


def parse_points(body):
    try:
        points = json.loads(body)["points"]
        table = {int(ts): number("points", str(v)) for ts, v in points}
    except (ValueError, KeyError, TypeError) as e:
        raise ControlError(f"points: the body must be {{\"points\": [[EPOCH, ACU], ...]}} ({e})")
    return Shape("points", points=table, text=f"{len(table)} points")


def parse_gap(text):
    if text == "":
        return None
    lo, sep, hi = text.partition("-")
    if not sep:
        raise ControlError(f"gap: {text!r} is not FROM-TO")
    lo, hi = number("gap", lo), number("gap", hi)
    if hi <= lo:
        raise ControlError(f"gap: {text!r} is empty")
    return (lo, hi)


def apply_shape(state, q, body):
    """Validates every capacity control before changing anything."""
    shape = gap = lag = ramp_max = ramp_step = None
    now = time.time()
    if "max" in q:
        ramp_max = number("max", q["max"])
        if ramp_max < 2:
            raise ControlError(f"max: {q['max']!r} is below the ramp's 2 ACU")
    if "ramp_step" in q:
        ramp_step = number("ramp_step", q["ramp_step"])
        if ramp_step <= 0:
            raise ControlError(f"ramp_step: {q['ramp_step']!r} is not positive")
    if "stuck" in q:
        v = number("stuck", q["stuck"])
        shape = Shape("script", [v], now, 60.0, v, v, text=f"stuck at {v:g}")
    if q.get("capacity") == "ramp" or (ramp_max is not None and shape is None and "capacity" not in q):
        shape = Shape()
    elif "capacity" in q:
        shape = parse_script(q, now)
    if body.strip():
        shape = parse_points(body)
    if "gap" in q:
        gap = parse_gap(q["gap"])
    if "lag" in q:
        lag = number("lag", q["lag"])
        if lag < 0:
            raise ControlError(f"lag: {q['lag']!r} is negative")
    with state.lock:
        if ramp_max is not None or ramp_step is not None:
            # As at startup: the ramp has just reached its top.
            state.ramp_max = ramp_max if ramp_max is not None else state.ramp_max
            state.ramp_step = ramp_step if ramp_step is not None else state.ramp_step
            state.ramp_start = now - state.ramp_max * state.ramp_step
        if shape is not None:
            state.shape = shape
        if "gap" in q:
            state.gap = gap
        if lag is not None:
            state.lag = lag


def capacity_text(state):
    text = state.shape.text if state.shape.kind != "ramp" else f"ramp 2..{state.ramp_max:g} every {state.ramp_step:g}s"
    if state.gap:
        text += f", gap {state.gap[0]:.0f}-{state.gap[1]:.0f}"
    if state.lag:
        text += f", lag {state.lag:g}s"
    return text


def stamps_of(state, shape, start, end, period):
    if shape.kind == "points":
        return sorted(t for t in shape.points if start <= t < end)
    t = start - start % period
    if t < start:
        t += period
    return list(range(t, math.ceil(end), period)) if t < end else []


def series(state, query, start, end):
    stat = query["MetricStat"]
    metric = stat["Metric"]
    period = int(stat["Period"])
    if metric.get("Namespace") != "AWS/RDS" or metric.get("MetricName") not in METRICS:
        return [], []
    dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    if "DBClusterIdentifier" not in dims or period < 1:
        return [], []
    with state.lock:
        shape, gap, lag = state.shape, state.gap, state.lag
    if lag:
        end = min(end, time.time() - lag)
    stamps, values = [], []
    for t in stamps_of(state, shape, start, end, period):
        acu = shape.value(state, t)
        if acu is None or (gap and gap[0] <= t < gap[1]):
            continue
        stamps.append(t)
        values.append(acu if metric["MetricName"] == "ServerlessDatabaseCapacity" else acu / 16 * 100)
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
        self.ramp_max = 16.0
        self.shape = Shape()
        self.gap = None
        self.lag = 0.0
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
                self.send_json(200, dict(state.stats, mode=state.mode, capacity=capacity_text(state)))
            return
        self.send_error_json(404, "UnknownOperationException", "not found")

    def control(self, query, body):
        state = self.server.state
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            apply_shape(state, {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()},
                        body.decode("utf-8", "replace"))
        except ControlError as e:
            self.note(f"control refused: {e}")
            self.send_error_json(400, "InvalidParameterValueException", str(e))
            return
        with state.lock:
            state.mode = q.get("mode", state.mode)
            state.delay = float(q.get("delay", state.delay))
            if "session_token" in q:
                state.session_token = q["session_token"] or None
        self.note(f"control {q}")
        with state.lock:
            answer = {"mode": state.mode, "capacity": capacity_text(state)}
        self.send_json(200, answer)

    def do_POST(self):
        state = self.server.state
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path == "/_control":
            self.control(url.query, body)
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
