"""Per-attempt staging directories for Cryo's output, and their clean-up (SPEC §7)."""

from __future__ import annotations

import errno
import math
import os
import shutil
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from trace_operators.contract import FatalError, ObjectStore
from trace_operators.runtime.tasks import check_attempt, check_task_id

DEFAULT_ROOT = Path("/tmp/trace/cryo")
DEFAULT_TTL_HOURS = 24.0
ROOT_VAR = "TRACE_CRYO_STAGING_DIR"
TTL_VAR = "TRACE_CRYO_STAGING_TTL_HOURS"


class StagingError(FatalError, ValueError):
    """A staging location that is unsafe or not allowed."""


def staging_root(env: Mapping[str, str]) -> Path:
    """`TRACE_CRYO_STAGING_DIR`, made absolute, or `/tmp/trace/cryo`."""
    value = env.get(ROOT_VAR, "")
    return Path(value).absolute() if value else DEFAULT_ROOT


def staging_ttl_hours(env: Mapping[str, str]) -> float:
    """`TRACE_CRYO_STAGING_TTL_HOURS`, a positive number of hours, or 24."""
    value = env.get(TTL_VAR, "").strip()
    if not value:
        return DEFAULT_TTL_HOURS
    try:
        hours = float(value)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours) or hours <= 0:
        raise ValueError(f"{TTL_VAR} must be a positive number of hours, such as 24 or 0.5")
    return hours


def check_outside_store(root: Path, store: ObjectStore) -> None:
    """Refuse a staging root that overlaps a local store's tree, either way round.

    Staged Parquet inside the store would be listed as objects; a store inside the staging root
    would be taken for stale task directories and swept.
    """
    if store.scheme != "file":
        return
    staging, published = root.resolve(), Path(store.bucket).resolve()
    if staging == published or published in staging.parents or staging in published.parents:
        raise StagingError(f"the staging root {staging} and the local store {published} must not contain each other")


@contextmanager
def staged(root: Path, task_id: str, attempt: int) -> Iterator[Path]:
    """An empty private directory `{root}/{task_id}/{attempt}/`, removed when the block exits.

    It is removed on failure too: the next attempt gets a directory of its own, half-written files
    help nobody and would fill the worker's disk; the error says what went wrong.
    """
    task_dir = _task_dir(root, task_id, attempt)
    directory = _make_attempt_dir(task_dir, attempt)
    try:
        yield directory
    finally:
        # A failed removal leaves a directory that `sweep_stale` collects later; it must not hide
        # the block's own outcome.
        shutil.rmtree(directory, ignore_errors=True)
        with suppress(OSError):
            task_dir.rmdir()  # only when no other attempt of the task is staged here


def sweep_stale(root: Path, ttl_hours: float, now: float | None = None) -> list[Path]:
    """Remove the task directories under `root` in which nothing changed for `ttl_hours`; return them."""
    cutoff = (time.time() if now is None else now) - ttl_hours * 3600
    base = root.resolve()
    try:
        entries = list(os.scandir(base))
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        # A symlink is left alone: never follow one out of the root.
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        try:
            if _newest_mtime(path) < cutoff:
                shutil.rmtree(path)
                removed.append(path)
        except OSError:
            continue  # changing under our feet (another worker's clean-up): leave it to the next sweep
    return removed


def _task_dir(root: Path, task_id: str, attempt: int) -> Path:
    """`{root}/{task_id}` after checking both values; the root is created private if missing."""
    # Checked when the task was read, and again here, where a bad value would become a path.
    check_task_id(task_id)
    check_attempt(attempt)
    base = root.resolve()
    base.parent.mkdir(parents=True, exist_ok=True)
    _make_private_dir(base)
    return base / task_id


def _make_attempt_dir(task_dir: Path, attempt: int) -> Path:
    """Create `{task_dir}/{attempt}` empty and private, emptying what a crashed run left there."""
    directory = task_dir / str(attempt)
    for _ in range(3):
        _make_private_dir(task_dir)
        try:
            if _is_real_dir(directory):
                # Cryo silently skips files that exist: a crashed run's leftovers must not count.
                shutil.rmtree(directory)
            _make_private_dir(directory)
            return directory
        except FileNotFoundError:
            continue  # another attempt's clean-up removed the task directory in between: make it again
    raise StagingError(f"could not create the staging directory {directory}")


def _make_private_dir(path: Path) -> None:
    """Create `path` or accept it when it is a real directory of this user; either way mode 0700."""
    with suppress(FileExistsError):
        path.mkdir(mode=0o700)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise StagingError(f"{path} is a symlink or a file, not a directory; refusing to stage there") from exc
        raise
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            raise StagingError(f"{path} belongs to another user; refusing to stage there")
        os.fchmod(fd, 0o700)  # explicitly: mkdir's mode is cut by the umask, and an existing dir keeps its own
    finally:
        os.close(fd)


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def _newest_mtime(path: Path) -> float:
    """The newest modification time of `path` and everything under it, symlinks not followed."""
    newest = path.lstat().st_mtime
    for directory, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            with suppress(FileNotFoundError):
                newest = max(newest, os.lstat(os.path.join(directory, name)).st_mtime)
    return newest
