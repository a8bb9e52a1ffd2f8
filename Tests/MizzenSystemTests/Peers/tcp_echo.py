#!/usr/bin/env python3
"""TCP (or TLS) echo server for Mizzen's end-to-end tests (stdlib only).

On each connection it writes, in order:
  - with --tls-cert/--tls-key, after the handshake: "SNI <server name or ->\\n"
  - with --banner TEXT: TEXT followed by "\\n"
then echoes every byte it receives until the peer closes.

Prints exactly one line "READY <port>" on stdout once listening.
"""

import argparse
import socket
import ssl
import sys
import threading
import time

import peerlib


def handle(sock, peer, args, tls_context, log):
    try:
        sni = None
        alpn = None
        if tls_context is not None:
            sock.settimeout(30.0)
            sock = tls_context.wrap_socket(sock, server_side=True)
            sni = getattr(sock, "mizzen_sni", None)
            alpn = sock.selected_alpn_protocol()
        log.write({"event": "session", "name": args.name, "peer": peer, "tls": tls_context is not None,
                   "sni": sni, "alpn": alpn})
        sock.settimeout(args.idle_timeout if args.idle_timeout > 0 else None)
        if tls_context is not None:
            sock.sendall(("SNI %s\n" % (sni or "-")).encode("utf-8"))
        if args.banner is not None:
            sock.sendall((args.banner + "\n").encode("utf-8"))
        total = 0
        while True:
            data = sock.recv(65536)
            if not data:
                break
            total += len(data)
            sock.sendall(data)
        log.write({"event": "closed", "name": args.name, "peer": peer, "bytes": total})
        if tls_context is not None:
            try:
                sock.unwrap()
            except (OSError, ssl.SSLError, ValueError):
                pass
    except (OSError, ssl.SSLError) as error:
        print("tcp_echo: %s: %s" % (peer, error), file=sys.stderr, flush=True)
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description="TCP/TLS echo server.")
    peerlib.add_server_arguments(parser)
    parser.add_argument("--banner", help="line written to every new connection before echoing")
    parser.add_argument("--name", default="tcp-echo", help="name recorded in the --log lines")
    parser.add_argument("--log", metavar="FILE", help="append one JSON line per connection event")
    parser.add_argument("--tls-cert", metavar="PEM", help="be a TLS echo server with this certificate (chain)")
    parser.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")
    parser.add_argument("--alpn", help="comma-separated ALPN protocols to accept with TLS (default: none)")
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="seconds a connection may sit idle before it is closed (0: never; default 120)")
    args = parser.parse_args()

    peerlib.exit_with_parent(args)

    tls_context = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.alpn:
            tls_context.set_alpn_protocols([p for p in args.alpn.split(",") if p])

        def remember_sni(ssl_socket, server_name, _context):
            ssl_socket.mizzen_sni = server_name
            return None
        tls_context.sni_callback = remember_sni

    log = peerlib.Log(args.log)
    listener, port = peerlib.listen(args)
    print("READY %d" % port, flush=True)
    while True:
        try:
            sock, addr = listener.accept()
        except OSError as error:
            print("tcp_echo: accept failed: %s" % error, file=sys.stderr, flush=True)
            time.sleep(0.05)
            continue
        peer = "%s:%d" % (addr[0], addr[1])
        log.write({"event": "connection", "name": args.name, "peer": peer})
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(sock, peer, args, tls_context, log), daemon=True).start()


if __name__ == "__main__":
    main()
