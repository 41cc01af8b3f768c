"""Tidepool's real platform client (npm ``tidepool-platform-client`` 0.67.0) against a live Inlet.

``drive.js`` signs up, logs in, uploads 3,000+ datums of mixed types in batches of 1,000 as the uploader
does, closes the data set, reads everything back through each filter, and exercises data sources,
sharing and restricted tokens, asserting every result. It prints a JSON summary as its last line; this
test asserts on that summary. Without Node (or without the installed client) the test skips and says
which tool is missing; with them, any disagreement between the server and the client fails it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIENT_DIR = Path(__file__).parent
CLIENT_PACKAGE = CLIENT_DIR / "node_modules" / "tidepool-platform-client" / "package.json"
CLIENT_VERSION = "0.67.0"
DRIVE_TIMEOUT_SECONDS = 240
BATCH_SIZE = 1000

STEPS = [
    "signup",
    "logout",
    "login",
    "getCurrentUser",
    "checkUploadVersions",
    "getTime",
    "createDatasetForUser",
    "addDataToDataset",
    "dataHiddenUntilClosed",
    "finalizeDataset",
    "getUploadRecordsForDevice",
    "getDeviceDataForUser",
    "valuesInMmolL",
    "filterType",
    "filterTypes",
    "filterSubType",
    "filterDatesUtc",
    "filterDatesOffset",
    "filterStartDateOffset",
    "filterEndDate",
    "filterUploadIdDeviceId",
    "filterLatest",
    "getDataSourcesForUser",
    "getViewableUsers",
    "getUploadGroups",
    "signupViewer",
    "setAccessPermissions",
    "getAccessPermissionsForGroup",
    "getTeamMembers",
    "viewerGetViewableUsers",
    "viewerGetUploadGroups",
    "viewerReadsData",
    "grantUpload",
    "revokeAccess",
    "createRestrictedTokenForUser",
    "secondUpload",
    "logoutAll",
]


@pytest.fixture(scope="module")
def node_binary() -> str:
    """The node binary, once the client is installed; otherwise skip, naming what is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: this test runs Tidepool's platform client (Node 18+ and npm)")
    if not CLIENT_PACKAGE.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot install tidepool-platform-client into tests/client")
        pytest.skip("tidepool-platform-client is not installed in tests/client: run `make client`")
    return node


def _summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"drive.js printed nothing (exit {proc.returncode}); stderr:\n{proc.stderr[-4000:]}"
    try:
        summary: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(
            f"drive.js did not end with a JSON summary:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        )
    return summary


def _explain(failures: list[dict[str, Any]]) -> str:
    lines = [f"{len(failures)} platform-client step(s) failed against Inlet:"]
    for failure in failures:
        if "blockedBy" in failure:
            lines.append(f"- {failure['step']}: blocked by {', '.join(failure['blockedBy'])}")
            continue
        lines.append(f"- {failure['step']}: {json.dumps(failure.get('error'))[:1500]}")
        for exchange in failure.get("http", [])[-6:]:
            lines.append(f"    {exchange['method']} {exchange['path']} -> {exchange['status']}")
    return "\n".join(lines)


def test_platform_client_against_live_server(node_binary: str, live_server: str) -> None:
    proc = subprocess.run(
        [node_binary, "drive.js", live_server],
        cwd=CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=DRIVE_TIMEOUT_SECONDS,
        check=False,
    )
    summary = _summary(proc)
    assert "crashed" not in summary, summary.get("crashed")
    assert summary["client"] == {"name": "tidepool-platform-client", "version": CLIENT_VERSION}

    failures = [step for step in summary["steps"] if not step["ok"]]
    assert not failures, _explain(failures)
    assert summary["ok"] is True
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert [step["step"] for step in summary["steps"]] == STEPS

    uploaded = summary["uploaded"]
    assert uploaded["datums"] >= 3000
    batches = uploaded["batches"]
    assert sum(batches) == uploaded["datums"]
    assert all(size == BATCH_SIZE for size in batches[:-1])  # the server took every full batch
    assert 0 < batches[-1] <= BATCH_SIZE
    assert len(uploaded["expected"]["counts"]) >= 8  # cbg, smbg, basal, bolus, wizard, food, deviceEvent, ...

    steps = {step["step"]: step for step in summary["steps"]}
    served = steps["getDeviceDataForUser"]["detail"]["counts"]
    assert served == {**uploaded["expected"]["counts"], "upload": 1}
    assert steps["getUploadRecordsForDevice"]["detail"]["state"] == "closed"
    assert steps["valuesInMmolL"]["detail"]["checked"] >= 2900
