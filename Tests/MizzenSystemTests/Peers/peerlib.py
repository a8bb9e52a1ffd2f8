"""What every Mizzen test server shares: where it listens, how it ends (on SIGTERM/SIGINT,
or when the test process that started it is gone, so a killed test run leaves nothing behind),
and the JSON-lines log the tests read."""
import json
import os
import socket
import signal
import threading
import time


def add_server_arguments(parser):
    """--host, --port and --parent-pid, the same for every peer server."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone (checked every second)")


def listen(args, backlog=512):
    """A TCP listener on --host/--port (port 0: any free one): (socket, port)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(backlog)
    return listener, listener.getsockname()[1]


def exit_with_parent(args):
    """Exit at once on SIGTERM/SIGINT, and within a second of --parent-pid disappearing."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    if not args.parent_pid:
        return
    pid = args.parent_pid

    def watch():
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True).start()


class Log:
    """Append-only JSON-lines log, one flushed line per event."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8") if path else None

    def write(self, record):
        if self.file is None:
            return
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self.lock:
            self.file.write(line)
            self.file.flush()
