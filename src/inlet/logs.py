"""Structured logs for the long-running processes (``inlet serve``, ``inlet worker``, ``inlet demo``).

Code logs through the standard library with its fields in ``extra`` (``log.info("sync run",
extra={"task": ..., "outcome": ...})``); structlog's ``ProcessorFormatter`` renders every record, ours
and the libraries', as one JSON object per line (``INLET_LOG_FORMAT=json``, for log shippers) or as
``key=value`` text (``console``, the default). A last processor masks any field whose name says it
holds a secret, in case one ever slips in. Health values are never put in a log line in the first
place: sync logs carry counts, ids and failure classes only.

Credentials travel in requests (``?restricted_token=`` on the OAuth authorize leg, ``?code=&state=``
on its redirect, session headers, cookies, ``Authorization``), and uvicorn's access log writes every
request line with its query string. So, besides the field masking, every rendered line of every
logger (the access log, tracebacks, libraries' messages) goes through :func:`redact` before it is
written: the values of ``restricted_token``, ``code``, ``state``, any name with ``token``,
``secret``, ``password``, ``session`` or ``cookie`` in it, in query strings, ``name=value`` pairs,
JSON and Python mappings, header lines and header tuples; ``Authorization``/``Cookie`` header values;
``Bearer``/``Basic`` credentials; and the password of a URL's user info.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

MASK = "[masked]"
SECRET_WORDS = ("token", "password", "passwd", "secret", "authorization", "cookie", "session", "verifier")
SECRET_NAMES = ("code", "state")  # OAuth's authorization code and state: masked by exact name only

# A name that holds a credential: one with a secret word in it, or exactly ``code`` / ``state``.
_NAME = (
    r"(?:[A-Za-z0-9_.\-]*(?:token|password|passwd|secret|authorization|cookie|session|verifier|api[-_]?key)"
    r"[A-Za-z0-9_.\-]*|code|state)"
)
_NOT_NAME_CHAR = r"(?<![A-Za-z0-9_.\-])"
# name=value in query strings, form bodies, cookies and key=value text
_PAIR = re.compile(rf"(?i){_NOT_NAME_CHAR}({_NAME})=(?!\[masked\])([^&\s\"'<>;,()\[\]{{}}\\]+)")
# "name": "value" / 'name': b'value' in JSON and Python reprs (escaped quotes inside the value kept)
_QUOTED = re.compile(rf"""(?i)(["'])({_NAME})\1(\s*[:=]\s*b?)(["'])((?:\\.|(?!\4).)*)\4""")
# name='value' / name="value" (Python reprs, the console renderer's fields)
_ASSIGN = re.compile(rf"""(?i){_NOT_NAME_CHAR}({_NAME})(\s*=\s*b?)(["'])((?:\\.|(?!\3).)*)\3""")
# (b'authorization', b'Bearer ...') header tuples of an ASGI scope or an httpx request
_TUPLE = re.compile(rf"""(?i)(\(\s*b?)(["'])({_NAME})\2(\s*,\s*b?)(["'])((?:\\.|(?!\5).)*)\5""")
# Authorization: Bearer ... / Cookie: a=b; c=d / X-Tidepool-Session-Token: ... as header lines (only
# header-shaped names, so prose such as "secrets: none" stays readable)
_HEADER_NAME = (
    r"(?:(?:proxy-)?authorization|(?:set-)?cookie|api-secret"
    r"|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*-(?:token|secret|session|api-?key)(?:-[A-Za-z0-9]+)*)"
)
_HEADER = re.compile(rf"(?im){_NOT_NAME_CHAR}({_HEADER_NAME})(\s*:\s*)(?!\[masked\])([^\r\n\"']+)")
# a credential after its scheme, wherever it stands
_SCHEME = re.compile(r"\b([Bb]earer|Basic)(\s+)(?!\[masked\])[A-Za-z0-9._~+/=\-]{8,}")
# scheme://user:password@host
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/\s@\"']*):([^@\s/\"']+)@")


def redact(text: str) -> str:
    """``text`` with the value of every credential it shows replaced by ``[masked]`` (see above)."""
    if "=" not in text and ":" not in text and "earer" not in text and "asic" not in text:
        return text
    text = _QUOTED.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{MASK}{m[4]}", text)
    text = _TUPLE.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{m[2]}{m[4]}{m[5]}{MASK}{m[5]}", text)
    text = _ASSIGN.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{MASK}{m[3]}", text)
    text = _PAIR.sub(lambda m: f"{m[1]}={MASK}", text)
    text = _HEADER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _SCHEME.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    return _USERINFO.sub(lambda m: f"{m[1]}:{MASK}@", text)


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_NAMES or any(word in lowered for word in SECRET_WORDS)


def mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Fields whose name says they hold a secret are masked whatever their value."""
    for key in list(event):
        if _secret_key(key):
            event[key] = MASK
    return event


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with every rendered line (message, fields, traceback) redacted last."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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
    formatter = RedactingFormatter(
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
