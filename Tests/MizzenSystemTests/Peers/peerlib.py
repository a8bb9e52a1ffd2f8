"""What every Mizzen test server shares: where it listens, and how it ends (on SIGTERM/SIGINT,
or when the test process that started it is gone, so a killed test run leaves nothing behind)."""
import os
import signal
import threading
import time


def add_server_arguments(parser):
    """--host, --port and --parent-pid, the same for every peer server."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone (checked every second)")


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
