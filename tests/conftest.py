"""Shared fixtures: the real parts (tests.s3server, tests.anvil) and the CLI run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.s3server", "tests.anvil"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "dags"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for a CLI run: its own staging root, no extractor or store chosen."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACE_")}
    return {**clean, "TRACE_CRYO_STAGING_DIR": str(tmp_path / "staging")}


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path):
    """Run `cryo-ingest ARGS...` in a child process, from `tmp_path`."""

    def run(
        *args: str, input: str | None = None, extra_env: dict[str, str] | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "cryo_ingest.cli", *args],
            cwd=tmp_path,
            input=input,
            capture_output=True,
            text=True,
            env={**env, **(extra_env or {})},
            timeout=600,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
        return done

    return run
