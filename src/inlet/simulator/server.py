"""Serving a simulator: in a background thread (tests, ``inlet demo``) or in the foreground (the CLI).

The socket is bound before uvicorn starts, so port 0 gives a real port that is known, and printed,
before the first request can arrive.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from inlet.simulator.core import Simulator, simulator_of

STARTUP_TIMEOUT_SECONDS = 20.0


def bind(host: str = "127.0.0.1", port: int = 0) -> tuple[socket.socket, str]:
    """A listening-ready socket and the base URL it serves (``http://host:port``, no trailing slash)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return sock, f"http://{shown}:{bound_port}"


def _config(app: Starlette, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
    )


class BackgroundSimulator:
    """A simulator served by uvicorn in a daemon thread; ``stop()`` (or leaving ``with``) ends it."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._sock, self.url = bind(host, port)
        self._server = uvicorn.Server(_config(app, "warning"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="inlet-simulator", daemon=True
        )

    @property
    def simulator(self) -> Simulator:
        return simulator_of(self.app)

    def start(self) -> BackgroundSimulator:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator did not start (see the log)")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.simulator.faults.release_hangs()
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        self._sock.close()

    def __enter__(self) -> BackgroundSimulator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def start_simulator(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> BackgroundSimulator:
    """Serve ``app`` in a background thread; returns once it accepts connections (``.url``, ``.stop()``)."""
    return BackgroundSimulator(app, host, port).start()


def serve(
    app: Starlette, host: str, port: int, on_ready: Callable[[str], None], log_level: str = "info"
) -> None:
    """Serve in the foreground until interrupted; ``on_ready(url)`` runs once the port is bound."""
    sock, url = bind(host, port)
    on_ready(url)
    server = uvicorn.Server(_config(app, log_level))
    try:
        server.run(sockets=[sock])
    finally:
        simulator_of(app).faults.release_hangs()
        sock.close()
