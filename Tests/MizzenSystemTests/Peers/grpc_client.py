#!/usr/bin/env python3
"""gRPC client that checks grpc_echo.py's service mizzen.test.Echo (needs PyPI grpcio).

  grpc_client.py --target HOST:PORT [--authority A] [CHECK]

CHECK is one of all (default), say, count, chat, fail. Plaintext HTTP/2 with
prior knowledge unless --tls. Prints one JSON summary line on stdout; exit 0
when every check passed, 1 otherwise (the summary then has "ok": false and a
"reason").
"""

import argparse
import json
import sys
import time

import grpc

SERVICE = "/mizzen.test.Echo/"


def md(pairs):
    return {k: v for k, v in (pairs or ())}


class CheckFailed(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def check_say(channel, timeout, args):
    call = channel.unary_unary(SERVICE + "Say")
    payload = args.message.encode()
    response, info = call.with_call(payload, timeout=timeout)
    trailers = md(info.trailing_metadata())
    initial = md(info.initial_metadata())
    expect(response == b"echo:" + payload, "Say returned %r" % response[:200])
    expect(trailers.get("x-trailer") == "done", "Say trailing metadata %r lacks x-trailer: done" % trailers)
    return {"response": response.decode("latin-1"), "trailer": trailers.get("x-trailer"),
            "upstream": initial.get("x-upstream"), "code": info.code().name}


def check_count(channel, timeout, args):
    call = channel.unary_stream(SERVICE + "Count")
    n = args.count
    responses = call(str(n).encode(), timeout=timeout)
    received = list(responses)
    expected = [str(i).encode() for i in range(n)]
    expect(received == expected, "Count(%d) returned %d messages, first differing %r" % (
        n, len(received), next((r for r, e in zip(received, expected) if r != e), None)))
    expect(responses.code() == grpc.StatusCode.OK, "Count ended with %s" % responses.code())
    return {"messages": len(received), "code": responses.code().name,
            "upstream": md(responses.initial_metadata()).get("x-upstream")}


def check_chat(channel, timeout, args):
    call = channel.stream_stream(SERVICE + "Chat")
    messages = [("chat-%d" % i).encode() + b"x" * (i * 1000) for i in range(args.chat)]
    responses = call(iter(messages), timeout=timeout)
    received = list(responses)
    expect(received == messages, "Chat echoed %d of %d messages correctly" % (
        sum(1 for r, m in zip(received, messages) if r == m), len(messages)))
    expect(responses.code() == grpc.StatusCode.OK, "Chat ended with %s" % responses.code())
    return {"messages": len(received), "code": responses.code().name}


def check_fail(channel, timeout, args):
    call = channel.unary_unary(SERVICE + "Fail")
    try:
        response = call(b"x", timeout=timeout)
    except grpc.RpcError as error:
        code, details = error.code(), error.details()
        expect(code == grpc.StatusCode.RESOURCE_EXHAUSTED,
               "Fail returned status %s (%s), wanted RESOURCE_EXHAUSTED" % (code, details))
        expect(details == "nope", "Fail details %r, wanted 'nope'" % details)
        return {"code": code.name, "details": details}
    raise CheckFailed("Fail succeeded with %r" % response)


CHECKS = {"say": check_say, "count": check_count, "chat": check_chat, "fail": check_fail}


def main():
    parser = argparse.ArgumentParser(description="Checks the mizzen.test.Echo gRPC service.")
    parser.add_argument("check", nargs="?", default="all", choices=["all"] + list(CHECKS),
                        help="which call to check (default all)")
    parser.add_argument("--target", required=True, help="HOST:PORT to connect to")
    parser.add_argument("--authority", help="the :authority to send (grpc.default_authority)")
    parser.add_argument("--timeout", type=float, default=10.0, help="deadline per call in seconds (default 10)")
    parser.add_argument("--message", default="hello", help="the Say request (default hello)")
    parser.add_argument("--count", type=int, default=5, help="N for Count (default 5)")
    parser.add_argument("--chat", type=int, default=4, help="messages sent on Chat (default 4)")
    parser.add_argument("--tls", action="store_true", help="use TLS instead of plaintext")
    parser.add_argument("--ca", metavar="PEM", help="trusted CA for --tls (default: system roots)")
    parser.add_argument("--server-name", help="name the server certificate is checked against (and SNI) with --tls")
    parser.add_argument("--client-cert", metavar="PEM", help="client certificate for mutual TLS")
    parser.add_argument("--client-key", metavar="PEM", help="key for --client-cert")
    args = parser.parse_args()

    options = [("grpc.enable_retries", 0), ("grpc.enable_http_proxy", 0)]
    if args.authority:
        options.append(("grpc.default_authority", args.authority))
    if args.tls:
        def read(path):
            if not path:
                return None
            with open(path, "rb") as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(read(args.ca), read(args.client_key), read(args.client_cert))
        if args.server_name:
            options.append(("grpc.ssl_target_name_override", args.server_name))
        channel = grpc.secure_channel(args.target, creds, options=options)
    else:
        channel = grpc.insecure_channel(args.target, options=options)

    names = list(CHECKS) if args.check == "all" else [args.check]
    summary = {"ok": True, "target": args.target, "authority": args.authority, "checks": {}}
    started = time.monotonic()
    try:
        for name in names:
            try:
                summary["checks"][name] = CHECKS[name](channel, args.timeout, args)
            except grpc.RpcError as error:
                raise CheckFailed("%s: RPC failed: %s %s" % (name, error.code(), error.details()))
            except CheckFailed as error:
                raise CheckFailed("%s: %s" % (name, error))
    except CheckFailed as error:
        summary["ok"] = False
        summary["reason"] = str(error)
    finally:
        channel.close()
    summary["elapsed"] = round(time.monotonic() - started, 3)
    print(json.dumps(summary), flush=True)
    if not summary["ok"]:
        print("grpc_client: %s" % summary["reason"], file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
