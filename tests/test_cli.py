"""The CLI's basics: versions, `python -m`, help that says what, how and with which exit status."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from cryo_ingest.usage import USAGES

from tests.conftest import FIXTURES

DAG = FIXTURES / "valid" / "bootstrap.yaml"
VERSION = f"cryo-ingest {metadata.version('cryo-ingest')} (cryo {metadata.version('cryo')})\n"


@pytest.mark.parametrize("args", [("--version",), ("validate", "--version"), ("run", "--version")])
def test_version_names_ours_and_cryos(cli, args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert (done.returncode, done.stdout, done.stderr) == (0, VERSION, "")
    assert VERSION == "cryo-ingest 0.1.0 (cryo 0.3.2)\n"


def test_python_m_is_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cryo_ingest", "validate", str(FIXTURES / "valid")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[dag.unknown-operator]" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "cryo_ingest", "--version"], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout) == (0, VERSION)


@pytest.mark.parametrize("command", sorted(USAGES))
def test_every_command_help_has_a_description_an_example_and_exit_codes(cli, command: str) -> None:
    usage = USAGES[command]
    done = cli(command, "--help")
    assert done.returncode == 0
    text = done.stdout
    assert f"usage: cryo-ingest {command}" in text
    assert " ".join(usage.description.split()) in " ".join(text.split())
    assert f"example:\n  {usage.example}\n" in text
    exits = text.split("exit status:\n", 1)[1]
    assert exits == "".join(f"  {line}\n" for line in usage.exits)
    assert exits.startswith("  0 ")


def test_the_command_list_shows_each_summary(cli) -> None:
    text = cli("--help").stdout
    for command, usage in USAGES.items():
        assert command in text and usage.summary.split()[0] in text
    assert "`cryo-ingest COMMAND --help` shows what a command does" in text.replace("\n", " ")


def test_a_wrong_job_is_answered_with_a_guess_and_the_jobs_there_are(cli) -> None:
    done = cli("plan", str(DAG), "--job", "cryo_bootstrp")
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"cryo-ingest plan: {DAG} has no cryo_ingest job named 'cryo_bootstrp'; did you mean 'cryo_bootstrap'? "
        "its cryo_ingest jobs are: cryo_bootstrap\n",
    )
    done = cli("plan", str(DAG), "--job", "range_request")  # a job of another operator is no guess
    assert done.stderr == (
        f"cryo-ingest plan: {DAG} has no cryo_ingest job named 'range_request'; its cryo_ingest jobs are: "
        "cryo_bootstrap\n"
    )
