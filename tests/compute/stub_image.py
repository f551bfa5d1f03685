"""A stand-in Image endpoint for tests, so that the CLI's ``--image`` lookup works.

The ``openstack server create --image`` command resolves the image through the
Image service before it calls compute. Until pocketstack has an Image service,
tests put this tiny read-only Glance-alike in the catalog of a cloud of their own.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubImages:
    def __init__(self, addr: str, images: dict[str, str]) -> None:
        self.images = images  # id -> name
        with socket.socket() as s:
            s.bind((addr, 0))
            port = s.getsockname()[1]
        self.url = f"http://{addr}:{port}"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0].rstrip("/")
                if path in ("", "/v2"):
                    self._send(200, {"versions": [{"id": "v2.16", "status": "CURRENT",
                                                   "links": [{"rel": "self",
                                                              "href": f"{stub.url}/v2/"}]}]})
                elif path == "/v2/images":
                    self._send(200, {"images": [stub.image(i) for i in stub.images]})
                elif path.startswith("/v2/images/") and path[11:] in stub.images:
                    self._send(200, stub.image(path[11:]))
                else:
                    self._send(404, {"message": "not found"})

        self.server = ThreadingHTTPServer((addr, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def image(self, image_id: str) -> dict[str, Any]:
        return {"id": image_id, "name": self.images[image_id], "status": "active",
                "visibility": "public", "disk_format": "qcow2", "container_format": "bare",
                "min_ram": 0, "min_disk": 0, "size": 1024, "tags": [],
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                "self": f"/v2/images/{image_id}", "file": f"/v2/images/{image_id}/file",
                "schema": "/v2/schemas/image"}

    def stop(self) -> None:
        self.server.shutdown()
