"""Structured logs for the long-running processes (``inlet serve``, ``inlet worker``, ``inlet demo``).

Code logs through the standard library with its fields in ``extra`` (``log.info("sync run",
extra={"task": ..., "outcome": ...})``); structlog's ``ProcessorFormatter`` renders every record, ours
and the libraries', as one JSON object per line (``INLET_LOG_FORMAT=json``, for log shippers) or as
``key=value`` text (``console``, the default). A last processor masks any field whose name says it
holds a secret, in case one ever slips in. Health values are never put in a log line in the first
place: sync logs carry counts, ids and failure classes only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_WORDS = ("token", "password", "secret", "authorization", "cookie")


# Secrets that travel inside text (an access log's request line): Nightscout's ``?secret=`` and
# ``?token=`` (any ``*secret=``/``*token=`` parameter), ``api-secret: ...`` and ``Authorization: ...``
# headers quoted in a message, and the access token in ``/api/v2/authorization/request/<token>``.
SECRET_IN_TEXT = re.compile(
    r"(?i)((?:secret|token)=)[^&\s\"']+"
    r"|(/authorization/request/)[^?\s\"'/]+"
    r"|((?:api-secret|authorization)[\"']?\s*[:=]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',}]+"
)


def mask_text(text: str) -> str:
    """``text`` with every secret it quotes replaced by ``[masked]``."""
    return SECRET_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "[masked]", text)


def mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(word in key.lower() for word in SECRET_WORDS):
            event[key] = "[masked]"
        elif isinstance(event[key], str):
            event[key] = mask_text(event[key])
    return event


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Route every stdlib log record through structlog's renderer at ``level``."""
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpx2", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
