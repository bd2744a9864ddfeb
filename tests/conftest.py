"""Shared fixtures: the real parts (tests.s3server, tests.anvil) and the CLI, in-process or as a user runs it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cryo_ingest.cli import main

pytest_plugins = ["tests.s3server", "tests.anvil"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "dags"

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for a CLI run: its own staging root, no extractor or store chosen."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACE_")}
    return {**clean, "TRACE_CRYO_STAGING_DIR": str(tmp_path / "staging")}


def _checked(done: subprocess.CompletedProcess[str], check: bool) -> subprocess.CompletedProcess[str]:
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Cli:
    """Run `cryo-ingest ARGS...` in this process (`main(argv)`), from `tmp_path`, in `env`."""

    def run(
        *args: str, input: str | None = None, extra_env: dict[str, str] | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        wanted = {**env, **(extra_env or {})}
        with monkeypatch.context() as patch:
            for name in set(os.environ) - set(wanted):
                patch.delenv(name)
            for name, value in wanted.items():
                patch.setenv(name, value)
            patch.chdir(tmp_path)
            patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((input or "").encode())))
            capfd.readouterr()
            try:
                code = main(list(args))
            except SystemExit as stop:  # argparse's usage errors and --help, as a process would exit
                code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
            out, err = capfd.readouterr()
        return _checked(subprocess.CompletedProcess(list(args), code, out, err), check)

    return run


@pytest.fixture
def cli_process(env: dict[str, str], tmp_path: Path) -> Cli:
    """Run `cryo-ingest ARGS...` in a child process, as the container entry and a user's shell run it."""

    def run(
        *args: str, input: str | None = None, extra_env: dict[str, str] | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "cryo_ingest", *args],
            cwd=tmp_path,
            input=input,
            capture_output=True,
            text=True,
            env={**env, **(extra_env or {})},
            timeout=600,
            check=False,
        )
        return _checked(done, check)

    return run
