"""The words for where a partner connection stands, shared by the partner framework, the sync engine
and the pages, so that none of them imports another just to spell a state.

A data source is ``connected`` (the worker syncs it), ``error`` (it stopped; the person must
reconnect, and was told) or ``disconnected`` (the person ended it). A source's sync task waits in
:data:`PARKED` while its source needs a reconnect: connecting again makes it due.
"""

from __future__ import annotations

CONNECTED, DISCONNECTED, ERROR = "connected", "disconnected", "error"
DATA_SOURCE_STATES = (CONNECTED, DISCONNECTED, ERROR)
PARKED = 2**62
"""A task's ``next_run_time`` while its source waits for a reconnect (far beyond any real time)."""
