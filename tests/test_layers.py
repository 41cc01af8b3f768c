"""The import layers (pyproject.toml's import-linter contracts) hold, and they catch a violation.

The second test copies the package, adds one forbidden import to the copy, and checks that the same
contracts fail on it: a contract that could never fail would guard nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts on the package found in ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "inlet", src / "inlet", ignore=shutil.ignore_patterns("__pycache__"))
    return src


def test_the_layers_hold(package_copy: Path, tmp_path: Path) -> None:
    result = _lint(package_copy, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("data/service.py", "import inlet.web", "Domains never import the web pages"),
        ("sync/runner.py", "from inlet.app import create_app", "Domains never import the web pages"),
        ("model/glucose.py", "import inlet.db.schema", "The data model is pure"),
        ("partners/dexcom/client.py", "import inlet.partners.acme.mapping", "A partner folder never imports"),
        ("accounts/service.py", "import inlet.partners.service", "The program's layers"),
    ],
)
def test_a_violation_breaks_a_contract(
    package_copy: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    path = package_copy / "inlet" / module
    text = path.read_text()
    marker = "from __future__ import annotations\n"
    assert marker in text
    path.write_text(text.replace(marker, f"{marker}\n{line}  # noqa\n", 1))
    result = _lint(package_copy, tmp_path)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if "BROKEN" in row or contract in row]
    assert any(contract in row for row in broken), result.stdout
