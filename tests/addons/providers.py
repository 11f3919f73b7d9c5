"""Local stand-ins for the providers' token services (``addons.devservices``, shared with
``manage.py addons_devserver``) and ``Scripted``, a server that answers what a fault test
tells it (status, body, delay, trickle, redirect, size)."""

import time

from addons.devservices import (  # noqa: F401 - re-exported for the tests
    LoopbackServer,
    SalesforceTokenEndpoint,
    SapTokenEndpoint,
)


# --- faults ---------------------------------------------------------------------------------------
class Scripted(LoopbackServer):
    """Answers every request with ``status`` / ``body`` after ``delay`` seconds; ``trickle``
    sends the body one byte per ``trickle`` seconds; ``size`` sends that many bytes of JSON
    padding; ``location`` adds a Location header (redirects)."""

    def __init__(
        self,
        *,
        status=200,
        body=b"{}",
        delay=0.0,
        trickle=0.0,
        size=0,
        location="",
        headers=None,
        tls=None,
    ):
        super().__init__(tls=tls)
        self.status, self.body, self.delay, self.trickle = status, body, delay, trickle
        self.size, self.location, self.headers = size, location, headers or {}

    def handle(self, handler):
        body, headers = self.read(handler)
        self.requests.append({"path": handler.path, "body": body, "headers": headers})
        time.sleep(self.delay)
        try:
            if self.size:
                self._send_large(handler)
                return
            extra = {"Content-Type": "application/json", **self.headers}
            if self.location:
                extra["Location"] = self.location
            if self.trickle:
                handler.send_response(self.status)
                for name, value in extra.items():
                    handler.send_header(name, value)
                handler.send_header("Content-Length", str(len(self.body)))
                handler.end_headers()
                for byte in self.body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(self.trickle)
                return
            self.answer(handler, self.status, self.body, extra)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up, as it should

    def _send_large(self, handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()  # no Content-Length: the client must count
        handler.close_connection = True
        chunk = b" " * 65536
        sent = 0
        handler.wfile.write(b'{"access_token": "x", "padding": "')
        while sent < self.size:
            handler.wfile.write(chunk)
            sent += len(chunk)
        handler.wfile.write(b'"}')
