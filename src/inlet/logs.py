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
API_KEY_WORDS = ("apikey", "api-key", "api_key")
HEADER_NAMES = ("authorization", "proxy-authorization", "cookie", "set-cookie", "api-secret")
HEADER_WORDS = ("token", "secret", "session", "key")  # a word of a hyphenated header name: x-...-token

_HINTS = (*SECRET_WORDS, *SECRET_NAMES, "key")  # every secret name or header holds one of these

# Any name, then a check in Python whether it names a credential: a regex that looked for the secret
# words inside names would backtrack over every word of every line.
_NAME = r"[A-Za-z0-9_.\-]+"
_NOT_NAME_CHAR = r"(?<![A-Za-z0-9_.\-])"
# name=value in query strings, form bodies, cookies and key=value text
_PAIR = re.compile(rf"{_NOT_NAME_CHAR}({_NAME})=(?!\[masked\])([^&\s\"'<>;,()\[\]{{}}\\]+)")
# "name": "value" / 'name': b'value' in JSON and Python reprs (escaped quotes inside the value kept)
_QUOTED = re.compile(r"""(["'])([A-Za-z0-9_.\-]+)\1(\s*[:=]\s*b?)(["'])((?:\\.|(?!\4).)*)\4""")
# name='value' / name="value" (Python reprs, the console renderer's fields)
_ASSIGN = re.compile(rf"""{_NOT_NAME_CHAR}({_NAME})(\s*=\s*b?)(["'])((?:\\.|(?!\3).)*)\3""")
# (b'authorization', b'Bearer ...') header tuples of an ASGI scope or an httpx request
_TUPLE = re.compile(r"""(\(\s*b?)(["'])([A-Za-z0-9_.\-]+)\2(\s*,\s*b?)(["'])((?:\\.|(?!\5).)*)\5""")
# Authorization: Bearer ... / Cookie: a=b; c=d / X-Tidepool-Session-Token: ... as header lines (only
# header-shaped names, so prose such as "secrets: none" stays readable)
_HEADER = re.compile(r"(?m)(?<![A-Za-z0-9_.\-])([A-Za-z0-9\-]+)(\s*:\s*)(?!\[masked\])([^\r\n\"']+)")
# a credential after its scheme, wherever it stands
_SCHEME = re.compile(r"\b([Bb]earer|Basic)(\s+)(?!\[masked\])[A-Za-z0-9._~+/=\-]{8,}")
# scheme://user:password@host
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/\s@\"']*):([^@\s/\"']+)@")


def secret_name(name: str) -> bool:
    """Whether a parameter, field or key of this name holds a credential."""
    lowered = name.lower()
    return (
        lowered in SECRET_NAMES
        or any(word in lowered for word in SECRET_WORDS)
        or any(word in lowered for word in API_KEY_WORDS)
    )


def _secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in HEADER_NAMES or (
        "-" in lowered and any(word in lowered.split("-") for word in HEADER_WORDS)
    )


def _masked(match: re.Match[str], name_group: int, value_group: int, secret: Any = secret_name) -> str:
    """The match with its value group replaced by the mask when its name group names a secret."""
    if not secret(match[name_group]):
        return match[0]
    start, end = match.span(value_group)
    base = match.start()
    return f"{match[0][: start - base]}{MASK}{match[0][end - base :]}"


def redact(text: str) -> str:
    """``text`` with the value of every credential it shows replaced by ``[masked]`` (see above)."""
    # Each pattern only where its marker occurs: most lines need few of them. A name is masked only
    # if it holds one of the hint words, so a line without any has no named credential.
    lowered = text.lower()
    named = any(word in lowered for word in _HINTS)
    quoted = named and ('"' in text or "'" in text)
    if quoted:
        text = _QUOTED.sub(lambda m: _masked(m, 2, 5), text)
        if "(" in text:
            text = _TUPLE.sub(lambda m: _masked(m, 3, 6), text)
    if named and "=" in text:
        if quoted:
            text = _ASSIGN.sub(lambda m: _masked(m, 1, 4), text)
        text = _PAIR.sub(lambda m: _masked(m, 1, 2), text)
    if ":" in text:
        if named:
            text = _HEADER.sub(lambda m: _masked(m, 1, 3, _secret_header), text)
        if "://" in text:
            text = _USERINFO.sub(lambda m: f"{m[1]}:{MASK}@", text)
    if "earer" in text or "Basic" in text:
        text = _SCHEME.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    if "/authorization/request/" in text:  # Nightscout's access token travels in the path
        text = _TOKEN_IN_PATH.sub(lambda m: f"{m[1]}{MASK}", text)
    return text


_TOKEN_IN_PATH = re.compile(r"(/authorization/request/)(?!\[masked\])[^?\s\"'/]+")


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
    """Fields whose name says they hold a secret are masked whatever their value."""
    for key in list(event):
        if secret_name(key):
            event[key] = MASK
        elif isinstance(event[key], str):
            event[key] = mask_text(event[key])
    return event


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with every rendered line (message, fields, traceback) redacted last."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_SHARED: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    mask_secrets,
]


def log_formatter(fmt: str = "console") -> RedactingFormatter:
    """The formatter of every log line (``json`` or ``console``): fields added, secrets masked and
    redacted (tests attach it to a file to check what a run would have written)."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    return RedactingFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Route every stdlib log record through structlog's renderer at ``level``."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(fmt))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpx2", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
