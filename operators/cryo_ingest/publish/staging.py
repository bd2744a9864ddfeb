"""Per-attempt staging directories for Cryo's output, and their clean-up (SPEC §7)."""

from __future__ import annotations

import errno
import math
import os
import shutil
import tempfile
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
    """A new, empty, private directory of this process under `{root}/{task_id}/{attempt}/`, removed on exit.

    Each process gets its own: the same task delivered twice at once must not see, or delete, the
    other's files, and Cryo silently skips files that exist, so nothing a crashed run left may count.
    It is removed on failure too: half-written files help nobody and would fill the worker's disk.
    """
    task_dir = _task_dir(root, task_id, attempt)
    attempt_dir, directory = _make_process_dir(task_dir, attempt)
    try:
        yield directory
    finally:
        # A failed removal leaves a directory that `sweep_stale` collects later; it must not hide
        # the block's own outcome.
        shutil.rmtree(directory, ignore_errors=True)
        for emptied in (attempt_dir, task_dir):  # only when no other process stages there
            with suppress(OSError):
                emptied.rmdir()


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


def _make_process_dir(task_dir: Path, attempt: int) -> tuple[Path, Path]:
    """`{task_dir}/{attempt}`, private, and a new private directory of this process in it."""
    attempt_dir = task_dir / str(attempt)
    for _ in range(3):
        try:
            _make_private_dir(task_dir)
            _make_private_dir(attempt_dir)
            directory = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=attempt_dir))
            _make_private_dir(directory)  # mkdtemp's 0700 is cut by the umask too
            return attempt_dir, directory
        except FileNotFoundError:
            continue  # another process's clean-up removed a parent in between: make it again
    raise StagingError(f"could not create a staging directory under {attempt_dir}")


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


def _newest_mtime(path: Path) -> float:
    """The newest modification time of `path` and everything under it, symlinks not followed."""
    newest = path.lstat().st_mtime
    for directory, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            with suppress(FileNotFoundError):
                newest = max(newest, os.lstat(os.path.join(directory, name)).st_mtime)
    return newest
