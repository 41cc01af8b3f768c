"""The chaos run's compressed clock, shared by the driver, the simulators and the worker processes.

``start + factor * (real time - began)`` until frozen. Every process computes it from the same three
numbers (passed to the worker processes in the environment), so the simulators' clock and the
workers' clock agree: a worker's runs ask the simulators for what is new in *simulated* time, not in
real time (real time would run days behind, and every run would re-read days of records). Freezing
writes the frozen instant to a file every process reads: the simulators stop producing data and the
workers' "now" stops with them, so the quiet phase compares a still picture.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from inlet.model.timeutil import US, from_micros
from inlet.sync.leases import db_now

ENV_START = "INLET_CHAOS_CLOCK_START_US"
ENV_BEGAN = "INLET_CHAOS_CLOCK_BEGAN_US"
ENV_FACTOR = "INLET_CHAOS_CLOCK_FACTOR"
ENV_FROZEN = "INLET_CHAOS_CLOCK_FROZEN_FILE"


class CompressedClock:
    """Simulated time: ``start_us + factor * (real_us - began_us)``, or the frozen instant."""

    def __init__(self, start_us: int, began_us: int, factor: float, frozen_file: Path) -> None:
        self.start_us, self.began_us, self.factor = start_us, began_us, factor
        self.frozen_file = frozen_file
        self._frozen: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def starting_now(cls, start: datetime, factor: float, frozen_file: Path) -> CompressedClock:
        return cls(int(start.timestamp() * US), int(time.time() * US), factor, frozen_file)

    @classmethod
    def from_env(cls) -> CompressedClock:
        return cls(
            int(os.environ[ENV_START]),
            int(os.environ[ENV_BEGAN]),
            float(os.environ[ENV_FACTOR]),
            Path(os.environ[ENV_FROZEN]),
        )

    def env(self) -> dict[str, str]:
        return {
            ENV_START: str(self.start_us),
            ENV_BEGAN: str(self.began_us),
            ENV_FACTOR: repr(self.factor),
            ENV_FROZEN: str(self.frozen_file),
        }

    def frozen(self) -> int | None:
        with self._lock:
            if self._frozen is None and self.frozen_file.exists():
                text = self.frozen_file.read_text().strip()
                if text:
                    self._frozen = int(text)
            return self._frozen

    def at(self, real_us: int) -> int:
        """Simulated microseconds at the real instant ``real_us``."""
        frozen = self.frozen()
        if frozen is not None:
            return frozen
        return self.start_us + int((real_us - self.began_us) * self.factor)

    def micros(self) -> int:
        return self.at(int(time.time() * US))

    def __call__(self) -> datetime:
        return from_micros(self.micros())

    def db(self, conn: Connection) -> int:
        """The database's time, compressed (a worker's ``clock``: processes agree on the server's)."""
        return self.at(db_now(conn))

    def freeze(self, outside: Callable[[datetime], bool] | None = None) -> datetime:
        """Stop the clock now, or at the first minute after now for which ``outside`` holds."""
        value = self.micros()
        while outside is not None and not outside(from_micros(value)):
            value += 60 * US
        partial = self.frozen_file.with_suffix(".partial")
        partial.write_text(str(value))
        partial.replace(self.frozen_file)
        with self._lock:
            self._frozen = value
        return from_micros(value)
