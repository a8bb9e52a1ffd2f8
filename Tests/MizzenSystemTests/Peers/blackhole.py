#!/usr/bin/env python3
"""A TCP port whose connects hang, for connect-timeout tests on loopback (stdlib only).

    blackhole.py [--host 127.0.0.1] [--port P] [--fill-timeout 0.3] [--parent-pid PID]

It listens with backlog 0 and never calls accept(). On Linux a listener's accept queue is
full once it holds more than `backlog` connections, so backlog 0 admits exactly one. At
start the program connects to itself, one connect at a time, until a connect attempt does
not complete within --fill-timeout seconds (0.3 by default); the connections that did
complete are kept open (nothing is ever sent on them, so they never go away), the attempt
that timed out is closed. Only then does it print "READY <port>".

From then on the kernel drops every SYN to the port (tcp_conn_request(): the accept queue is
full), so a client's connect() sees no SYN-ACK, no RST: it retransmits its SYN (1 s, 3 s,
7 s, ...) and hangs until its own timeout, exactly like a connect to a host that drops
packets, without leaving loopback.

Why this holds with the Linux defaults (checked on 6.x with net.ipv4.tcp_syncookies=1 and
net.ipv4.tcp_abort_on_overflow=0; no sysctl is changed):
  - SYN cookies only stand in for a full SYN queue (half-open connections); the check that
    the accept queue is full comes after that decision in tcp_conn_request() and drops the
    SYN either way (counted as ListenOverflows/ListenDrops in /proc/net/netstat; on 6.x
    SyncookiesSent stays 0), so cookies never complete a handshake on a full queue.
  - tcp_abort_on_overflow only concerns the handshake's last ACK arriving on a full queue
    (drop it, or RST with 1); here the SYN itself is dropped, so it does not matter.
  - Filling until an attempt hangs (instead of assuming one connection fills it) keeps this
    right should a kernel admit more than `backlog` connections.
A connect to the same port on ::1 is refused (nothing listens there): use 127.0.0.1.
Exits 1 (before READY) if 1000 self-connects all completed.
"""

import argparse
import socket
import sys
import time

import peerlib

MAX_FILL = 1000


def eprint(*args):
    print("blackhole:", *args, file=sys.stderr, flush=True)


def read_sysctl(name):
    try:
        with open("/proc/sys/net/ipv4/" + name) as f:
            return f.read().strip()
    except OSError:
        return "?"


def main():
    parser = argparse.ArgumentParser(description="A TCP port whose connects hang (full accept queue, SYNs dropped).")
    peerlib.add_server_arguments(parser)
    parser.add_argument("--fill-timeout", type=float, default=0.3,
                        help="a self-connect taking longer than this means the queue is full (default 0.3 s)")
    args = parser.parse_args()
    peerlib.exit_with_parent(args)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(0)
    port = listener.getsockname()[1]
    target = "127.0.0.1" if args.host in ("", "0.0.0.0") else args.host

    held = []  # the connections that fill the accept queue; kept open for good
    while True:
        if len(held) >= MAX_FILL:
            eprint("%d self-connects completed, the accept queue never filled up" % len(held))
            sys.exit(1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(args.fill_timeout)
        try:
            sock.connect((target, port))
        except socket.timeout:
            sock.close()  # this SYN stays unanswered: the queue is full
            break
        except OSError as error:
            eprint("self-connect failed: %s" % error)
            sys.exit(1)
        held.append(sock)

    eprint("port %d: accept queue filled with %d connection(s); tcp_syncookies=%s tcp_abort_on_overflow=%s"
           % (port, len(held), read_sysctl("tcp_syncookies"), read_sysctl("tcp_abort_on_overflow")))
    print("READY %d" % port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
