#!/usr/bin/python3
"""Stand-in for systemd's notification socket in tests.

Usage: notify-listen.py SOCKET_PATH OUTFILE

Binds an AF_UNIX datagram socket at SOCKET_PATH ("@name" means the abstract
namespace, as NOTIFY_SOCKET allows) and appends every datagram to OUTFILE
exactly as received, followed by a newline, flushing after each, so a test
can point NOTIFY_SOCKET at it and read what sd_notify() sent (READY=1,
STATUS=..., WATCHDOG=1, RELOADING=1, ...).  Runs until SIGTERM or SIGINT, and
never longer than MAX_LIFETIME seconds, so a forgotten listener goes away.
"""

import os
import signal
import socket
import stat
import sys
import time

MAX_LIFETIME = 600.0
MAX_DATAGRAM = 65536


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop()


def bind_socket(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    if path.startswith("@"):
        sock.bind("\0" + path[1:])
        return sock
    # A socket left behind by an earlier run would make bind() fail.
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock.bind(path)
    return sock


def listen(sock, out):
    deadline = time.monotonic() + MAX_LIFETIME
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(min(left, 1.0))
        try:
            data = sock.recv(MAX_DATAGRAM)
        except socket.timeout:
            continue
        out.write(data + b"\n")
        out.flush()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: notify-listen.py SOCKET_PATH OUTFILE\n")
        return 2
    path, outfile = argv[1], argv[2]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        out = open(outfile, "ab")
    except OSError as e:
        sys.stderr.write("notify-listen: %s: cannot open: %s\n" % (outfile, e.strerror))
        return 1
    try:
        sock = bind_socket(path)
    except OSError as e:
        sys.stderr.write("notify-listen: %s: cannot bind: %s\n" % (path, e.strerror))
        return 1
    try:
        listen(sock, out)
    except Stop:
        pass
    finally:
        sock.close()
        out.close()
        if not path.startswith("@"):
            try:
                os.unlink(path)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
