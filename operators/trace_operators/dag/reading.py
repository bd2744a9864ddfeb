"""Reading one file's text safely: regular files only, never a blocking open, never past a size limit."""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import stat

from trace_operators.dag.yaml_data import LoadProblem

#: Far above any DAG, far below what would exhaust memory: `--max-file-size` moves it.
DEFAULT_MAX_FILE_SIZE = 50_000_000
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
_NAMES = "B, KB, MB, GB, KiB, MiB or GiB"
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def parse_size(text: str) -> int:
    """Bytes from `50000000`, `50MB`, `48MiB` or `1.5GB` (`--max-file-size`: argparse's error for anything else)."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write bytes, or a number with a unit ({_NAMES})")
    return int(float(match.group(1)) * _UNITS[unit])


def read_text(path: pathlib.Path, limit: int = DEFAULT_MAX_FILE_SIZE) -> tuple[str, LoadProblem | None]:
    """The file's text, or why it cannot be read."""
    try:
        info = path.stat()
        problem = _not_readable(info.st_mode, info.st_size, limit)
        if problem is not None:  # checked before opening: opening a pipe or a device may block or have effects
            return "", problem
        # O_NONBLOCK: if a pipe replaced the file since the stat, the open returns at once and fstat refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            problem = _not_readable(info.st_mode, info.st_size, limit)
            raw = b"" if problem else file.read(limit + 1)  # + 1: a file growing past the limit is caught too
    except FileNotFoundError:
        return "", _unreadable("it does not exist")
    except PermissionError:
        return "", _unreadable("permission denied")
    except OSError as error:
        return "", _unreadable(error.strerror or type(error).__name__)
    if problem is None and len(raw) > limit:
        problem = _too_big(len(raw), limit)
    return ("", problem) if problem else _decoded(raw)


def _not_readable(mode: int, size: int, limit: int) -> LoadProblem | None:
    kind = next((name for test, name in _KINDS if test(mode)), None)
    if kind is not None:
        return _unreadable(f"it is {kind}" + ("" if kind == "a directory" else ", not a regular file"))
    if not stat.S_ISREG(mode):
        return _unreadable("it is not a regular file")
    return _too_big(size, limit) if size > limit else None


def _too_big(size: int, limit: int) -> LoadProblem:
    return LoadProblem(
        "yaml.unreadable",
        f"the file is {size:,} bytes, over the limit of {limit:,} bytes",
        1,
        1,
        "a DAG is far smaller: check that this is the file meant, or raise the limit with --max-file-size",
    )


def _decoded(raw: bytes) -> tuple[str, LoadProblem | None]:
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        message = f"the file is not UTF-8 (byte 0x{raw[error.start]:02x} on line {line})"
        return "", LoadProblem("yaml.unreadable", message, 1, 1, "save the file as UTF-8")


def _unreadable(reason: str) -> LoadProblem:
    return LoadProblem("yaml.unreadable", f"cannot read the file: {reason}", 1, 1)
