"""Care-team sharing and password reset with Tidepool's real platform client against a live Inlet.

``sharing.js`` calls ``inviteUser``, ``invitesSent``, ``invitesReceived``, ``acceptInvite``,
``requestPasswordReset`` and ``confirmPasswordReset`` the way Tidepool Web does: an invitation to
someone without an account, who signs up first and accepts after; then a password reset, whose key
this test reads from the server's outbox (the email) and hands to the script; the reused key must be
refused. Skips, naming what is missing, without Node or the installed client.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any
from urllib.parse import parse_qs, urlsplit

from inlet.notify.notifier import queued
from tests.client.test_platform_client import CLIENT_DIR, DRIVE_TIMEOUT_SECONDS, node_binary  # noqa: F401
from tests.live import LiveServer, live_inlet  # noqa: F401

STEPS = [
    "signupParent",
    "inviteUser",
    "inviteUserAgainConflicts",
    "invitesSent",
    "signupPartner",
    "invitesReceived",
    "acceptInvite",
    "partnerReadsParentData",
    "requestPasswordReset",
    "confirmPasswordReset",
    "resetEndsSessionsAndChangesPassword",
    "reusedResetKeyRefused",
]


def reset_key(server: LiveServer, email: str) -> str:
    with server.services.engine.connect() as conn:
        links = [
            e.link
            for e in queued(conn, include_sent=True, cipher=server.services.notifier.cipher)
            if e.to == email and e.link
        ]
    resets = [link for link in links if "/confirm-password-reset?" in link]
    assert resets, f"no reset email to {email}"
    return parse_qs(urlsplit(resets[-1]).query)["resetKey"][0]


def test_sharing_and_reset_with_the_platform_client(node_binary: str, live_inlet: LiveServer) -> None:  # noqa: F811
    summary: dict[str, Any] | None = None
    with subprocess.Popen(
        [node_binary, "sharing.js", live_inlet.url],
        cwd=CLIENT_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if line.startswith("NEED_RESET_KEY "):
                    proc.stdin.write(reset_key(live_inlet, line.split(" ", 1)[1].strip()) + "\n")
                    proc.stdin.flush()
                elif line.strip().startswith("{"):
                    summary = json.loads(line)
            proc.wait(timeout=DRIVE_TIMEOUT_SECONDS)
        finally:
            if proc.poll() is None:
                proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
    assert summary is not None, f"sharing.js printed no summary; stderr:\n{stderr[-4000:]}"
    assert "crashed" not in summary, summary.get("crashed")
    failures = [step for step in summary["steps"] if not step["ok"]]
    assert not failures, json.dumps(failures, indent=1)[:4000]
    assert [step["step"] for step in summary["steps"]] == STEPS
    assert proc.returncode == 0
