#!/usr/bin/env python3
"""A TLS client that sends one HTTP/1.1 request with `Connection: close`, reads the response
and the server's close_notify, and then neither answers close_notify nor closes: it measures
how long the server keeps the TCP connection open waiting for the client's close_notify
(Envoy closes after its delayed_close_timeout, 1 s).

Prints one JSON line: {"status", "close_notify": bool, "fin_after": seconds from the
close_notify to the server's FIN (null if none within --wait), "ok"}; exits 1 unless the
response, the close_notify and a FIN within --wait arrived."""
import argparse, json, socket, ssl, sys, time


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sni", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--path", default="/close-notify")
    parser.add_argument("--wait", type=float, default=10.0)
    args = parser.parse_args()

    context = ssl.create_default_context(cafile=args.ca)
    context.set_alpn_protocols(["http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=args.sni)
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.wait)

    def flush():
        data = outgoing.read()
        if data:
            sock.sendall(data)

    def receive():
        data = sock.recv(65536)
        if data:
            incoming.write(data)
        else:
            incoming.write_eof()
        return data

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            flush()
            if not receive():
                raise SystemExit("closed during the handshake")
    flush()
    request = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (args.path, args.sni)
    tls.write(request.encode())
    flush()

    response = b""
    close_notify_at = None
    while close_notify_at is None:
        try:
            chunk = tls.read(65536)
            if not chunk:  # close_notify
                close_notify_at = time.monotonic()
                break
            response += chunk
        except ssl.SSLWantReadError:
            if not receive():
                break
        except ssl.SSLZeroReturnError:
            close_notify_at = time.monotonic()
    # Do not answer close_notify: wait for the server's FIN.
    fin_after = None
    if close_notify_at is not None:
        sock.settimeout(args.wait)
        try:
            while sock.recv(65536):
                pass
            fin_after = round(time.monotonic() - close_notify_at, 3)
        except socket.timeout:
            pass
        except ConnectionResetError:
            fin_after = round(time.monotonic() - close_notify_at, 3)
    sock.close()
    status = response.split(b" ", 2)[1].decode() if response.startswith(b"HTTP/1.1 ") else None
    result = {"status": status, "close_notify": close_notify_at is not None, "fin_after": fin_after}
    result["ok"] = status is not None and close_notify_at is not None and fin_after is not None
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
