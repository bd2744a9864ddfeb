"""Timing child processes: wall time and peak RSS of one command, medians, alternating pairs."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"


@dataclass(frozen=True)
class Run:
    """One finished command."""

    seconds: float
    #: Peak resident set of the command's process (and of its waited-for children), in bytes.
    peak_rss: int
    #: CPU seconds, user and system, of the command and its waited-for children.
    cpu: float
    stdout: str
    stderr: str


class CommandFailed(Exception):
    """A measured command exited non-zero: its figures would mean nothing."""


def run(argv: Sequence[str], env: Mapping[str, str] | None = None, stdin: bytes = b"") -> Run:
    """Run `argv` to the end; its wall time (process start included) and peak RSS from `wait4`.

    Output goes to files, not pipes: nobody reads a pipe while the child runs, and a full one would stall it.
    """
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        given.write(stdin)
        given.seek(0)
        began = time.perf_counter()
        child = subprocess.Popen(list(argv), stdin=given, stdout=out, stderr=err, env=dict(env or os.environ))
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        result = Run(
            seconds,
            usage.ru_maxrss * 1024,
            usage.ru_utime + usage.ru_stime,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )
    if child.returncode != 0:
        raise CommandFailed(
            f"{' '.join(map(str, argv))} exited with {child.returncode}:\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result


def local_env(work: Path, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked `cryo-ingest`: staging under `work`, no inherited TRACE_ or AWS_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRACE_", "AWS_"))}
    return {**clean, "TRACE_CRYO_STAGING_DIR": str(work / "staging"), **extra}


#: The runner's own time in `cryo-ingest run`'s summary line: no process start, imports or DAG loading.
_RUN_SECONDS = re.compile(r" in ([0-9.]+) s \(")


def in_run_seconds(result: Run) -> float:
    found = _RUN_SECONDS.search(result.stdout)
    if found is None:
        raise CommandFailed(f"no summary line in: {result.stdout[-500:]}")
    return float(found.group(1))


def cli(*args: str | Path) -> list[str]:
    """The `cryo-ingest` command as users run it: the console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "cryo-ingest"
    return [str(script), *map(str, args)]


def alternate(first: Callable[[], float], second: Callable[[], float], pairs: int) -> tuple[list[float], list[float]]:
    """`pairs` timings of each, in the order AB BA AB …, so drift on a shared machine hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for pair in range(pairs):
        if pair % 2:
            b.append(second())
            a.append(first())
        else:
            a.append(first())
            b.append(second())
    return a, b


def recorded(once: Callable[[], Run], runs: list[Run]) -> Callable[[], float]:
    """`once`'s seconds, for `alternate`, each `Run` kept in `runs` for its other figures."""

    def seconds() -> float:
        runs.append(once())
        return runs[-1].seconds

    return seconds


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    """`median (min–max)` in seconds, for the detail lines."""
    return f"{median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"
