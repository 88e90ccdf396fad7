#!/usr/bin/python3
"""Concurrent writers against the demo target's /docs documents, then a
read-back, classified as perfwatchd's lost-write check will do it (issue 8):
prints one JSON object with attempted, acknowledged, failed, indeterminate,
ok, lost, unexpected, recovered and the tokens of each of the last three.

usage: docs-writers.py HOST:PORT PREFIX WRITERS WRITES DOCS TIMEOUT SETTLE

Writer w sends WRITES tokens "PREFIX-w-i" to documents "PREFIX-doc-K"
(K = i % DOCS) over one keep-alive connection with a TIMEOUT (seconds):
201 is acknowledged, any other status failed, a timeout or a broken
connection indeterminate.  After SETTLE seconds every document is read back
once from each replica."""
import http.client
import json
import sys
import threading
import time


def writer(host, port, prefix, w, writes, docs, timeout, out):
    conn = None
    for i in range(writes):
        token = "%s-%d-%d" % (prefix, w, i)
        doc = "%s-doc-%d" % (prefix, i % docs)
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.request("POST", "/docs/" + doc, json.dumps({"token": token}),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            out.append((doc, token, "acknowledged" if r.status == 201 else "failed"))
        except (OSError, http.client.HTTPException):
            out.append((doc, token, "indeterminate"))
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def read_back(host, port, doc, replicas):
    """The elements of `doc` at each replica (None: no such document)."""
    found = []
    for j in range(replicas):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/docs/%s?replica=%d" % (doc, j))
        r = conn.getresponse()
        body = r.read()
        conn.close()
        found.append(json.loads(body)["elements"] if r.status == 200 else None)
    return found


def main():
    addr, prefix = sys.argv[1], sys.argv[2]
    writers, writes, docs = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    timeout, settle = float(sys.argv[6]), float(sys.argv[7])
    host, port = addr.rsplit(":", 1)
    results = [[] for _ in range(writers)]
    threads = [threading.Thread(target=writer, args=(host, int(port), prefix, w, writes, docs, timeout,
                                                     results[w])) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(settle)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/docs/stats")
    replicas = json.loads(conn.getresponse().read())["replicas"]
    conn.close()

    sent = {}
    for res in results:
        for doc, token, outcome in res:
            sent[token] = (doc, outcome)
    rep = {k: 0 for k in ("attempted", "acknowledged", "failed", "indeterminate", "ok", "lost",
                          "unexpected", "recovered")}
    rep.update(lost_tokens=[], unexpected_tokens=[], recovered_tokens=[], replicas_agree=True)
    present = set()
    for k in range(docs):
        doc = "%s-doc-%d" % (prefix, k)
        views = read_back(host, int(port), doc, replicas)
        if any(sorted(v or []) != sorted(views[0] or []) for v in views):
            rep["replicas_agree"] = False
        for e in views[0] or []:
            if e in sent and sent[e][0] == doc and sent[e][1] != "failed":
                present.add(e)
            else:
                rep["unexpected"] += 1
                rep["unexpected_tokens"].append(e)
    for token, (doc, outcome) in sorted(sent.items()):
        rep["attempted"] += 1
        rep[outcome] += 1
        if outcome == "acknowledged":
            if token in present:
                rep["ok"] += 1
            else:
                rep["lost"] += 1
                rep["lost_tokens"].append(token)
        elif outcome == "indeterminate" and token in present:
            rep["recovered"] += 1
            rep["recovered_tokens"].append(token)
    json.dump(rep, sys.stdout)
    print()


if __name__ == "__main__":
    main()
