"""A fake Slack for Socket Mode on loopback: a Web API and the WebSocket it hands out.

`apps.connections.open` answers `ws://127.0.0.1:PORT/`; the WebSocket server greets the
client with `hello`, delivers the envelopes a test sends, and records the acks. Other
Web API methods answer `ok` like Slack would and are recorded (a post gets a ts).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from websockets.sync.server import ServerConnection, serve

from signoff.local import serving


class SocketModeSlack:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.connections: list[ServerConnection] = []
        self._changed = threading.Condition()

        self._ws = serve(self._session, "127.0.0.1", 0)
        self.ws_url = f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/link"
        threading.Thread(target=self._ws.serve_forever, daemon=True).start()

        fake = self

        class WebApi(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw))
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                body = json.dumps(fake._answer(self.path.rsplit("/", 1)[-1], args, token))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), WebApi)
        self.api_url = f"http://127.0.0.1:{self._http.server_port}/api/"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def _answer(self, method: str, args: dict[str, Any], token: str) -> dict[str, Any]:
        with self._changed:
            self.calls.append({"method": method, "args": args, "token": token})
            self._changed.notify_all()
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": True, "url": self.ws_url}
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"), "ts": f"{time.time():.6f}"}
        if method in ("conversations.history", "conversations.replies"):
            return {"ok": True, "messages": [], "has_more": False}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", ""))}}
        if method == "chat.getPermalink":
            permalink = (
                f"https://fake.slack/archives/{args.get('channel')}/p{args.get('message_ts')}"
            )
            return {"ok": True, "channel": args.get("channel"), "permalink": permalink}
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}

    def _session(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0SIGNOFF"},
                    "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                }
            )
        )
        with self._changed:
            self.connections.append(connection)
            self._changed.notify_all()
        for message in connection:
            ack = json.loads(message)
            with self._changed:
                self.acks[str(ack.get("envelope_id"))] = ack
                self._changed.notify_all()

    def wait(self, check: Any, timeout: float = 15) -> Any:
        with self._changed:
            return self._changed.wait_for(check, timeout)

    def deliver(self, kind: str, payload: dict[str, Any], timeout: float = 15) -> Any:
        """Send one envelope to the connected app; its ack (a dict), or None if none came."""
        assert self.wait(lambda: self.connections), "the app never connected"
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "payload": payload,
        }
        self.connections[-1].send(json.dumps(envelope))
        self.wait(lambda: envelope_id in self.acks, timeout)
        return self.acks.get(envelope_id)

    def methods(self) -> list[str]:
        with self._changed:
            return [call["method"] for call in self.calls]

    def stop(self) -> None:
        self._ws.shutdown()
        serving.stop(self._http)
