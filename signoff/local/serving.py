"""Stopping a server from the standard library's socketserver (http.server's, werkzeug's).

`shutdown()` asks `serve_forever` to return, but `serve_forever` looks at that request
only between its waits for a connection (0.5 s each by default), so every stop used to cost
up to half a second. A connection made after asking ends the wait at once.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading


def stop(server: socketserver.BaseServer, *, timeout: float = 10) -> None:
    """Stop `server`, whose `serve_forever` runs on another thread, and close its socket."""
    stopping = threading.Thread(target=server.shutdown, name="stop-server", daemon=True)
    stopping.start()
    bound = server.server_address  # (host, port) for TCP; a path or bytes for Unix sockets
    if not isinstance(bound, tuple):
        raise TypeError("only a TCP server is woken by a connection")
    address = (str(bound[0]), int(bound[1]))
    for _ in range(int(timeout / 0.01)):
        # A connection before the request is served like any other (the handler reads an
        # empty request); one after it wakes the loop to see the request: try until it did.
        with contextlib.suppress(OSError):
            socket.create_connection(address, timeout=0.5).close()
        stopping.join(0.01)
        if not stopping.is_alive():
            break
    server.server_close()
