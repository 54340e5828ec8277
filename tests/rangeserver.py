"""A local HTTP server that honours ``Range: bytes=a-b`` (206 Partial Content), as GDAL's /vsicurl/
needs: Python's http.server sends whole files only."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Files of a folder, whole (200) or a byte range (206); HEAD answers with the size."""

    def log_message(self, *args) -> None:  # quiet
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        size = os.path.getsize(path)
        m = _RANGE.match(self.headers.get("Range", ""))
        start, end = (0, size - 1) if m is None else (int(m[1]), min(int(m[2] or size - 1), size - 1))
        if start >= size:
            self.send_error(416)
            return None
        f = open(path, "rb")  # noqa: SIM115 - closed by SimpleHTTPRequestHandler
        f.seek(start)
        self._left = end - start + 1
        self.send_response(200 if m is None else 206)
        if m is not None:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(self._left))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        return f

    def copyfile(self, source, outputfile) -> None:
        outputfile.write(source.read(self._left))


@contextmanager
def range_server(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread; yields ``http://127.0.0.1:PORT``."""
    handler = functools.partial(RangeHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
