"""Staging directories: private, per attempt and process, removed after use, swept when stale, kept in the root."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cryo_ingest.publish.staging import (
    DEFAULT_ROOT,
    StagingError,
    check_outside_store,
    staged,
    staging_root,
    staging_ttl_hours,
    sweep_stale,
)
from trace_operators.contract import FatalError
from trace_operators.runtime.tasks import MAX_ATTEMPT, TASK_ID_RULE
from trace_operators.stores import LocalStore, S3Store

NOW = 2_000_000_000.0
HOUR = 3600.0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _age(path: Path, seconds: float) -> None:
    """Give `path` and everything under it a modification time `seconds` before NOW."""
    stamp = NOW - seconds
    for directory, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.utime(os.path.join(directory, name), (stamp, stamp), follow_symlinks=False)
    os.utime(path, (stamp, stamp), follow_symlinks=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "staging"


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A umask that would leave mkdir'd directories with no permissions at all."""
    previous = os.umask(0o777)
    yield
    os.umask(previous)


def test_staged_directory_is_private_empty_and_removed_after(root: Path, strict_umask: None) -> None:
    with staged(root, "task-1", 1) as directory:
        assert directory.parent == root / "task-1" / "1"
        assert directory.name.startswith(f"{os.getpid()}-")
        assert list(directory.iterdir()) == []
        assert [_mode(p) for p in (root, root / "task-1", directory.parent, directory)] == [0o700] * 4
        (directory / "sub").mkdir()
        (directory / "sub" / "a.parquet").write_bytes(b"x")
    assert list(root.iterdir()) == []
    assert _mode(root) == 0o700


def test_an_existing_root_is_made_private(root: Path) -> None:
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    with staged(root, "t", 1):
        assert _mode(root) == 0o700


def test_staged_directory_is_removed_on_failure_too(root: Path) -> None:
    with pytest.raises(RuntimeError, match="extraction failed"):
        with staged(root, "task-1", 2) as directory:
            (directory / "half.parquet").write_bytes(b"half")
            raise RuntimeError("extraction failed")
    assert list(root.iterdir()) == []


def test_other_attempts_of_the_task_are_kept(root: Path) -> None:
    with staged(root, "task-1", 2) as second:
        (second / "b").write_bytes(b"b")
        with staged(root, "task-1", 1):
            pass
        assert sorted(p.name for p in (root / "task-1").iterdir()) == ["2"]
        assert (second / "b").read_bytes() == b"b"
    assert list(root.iterdir()) == []


def test_the_same_attempt_twice_at_once_stages_apart_and_leftovers_never_count(root: Path) -> None:
    leftover = root / "task-1" / "1" / "99-crashed" / "1__blocks__00000000_to_00000999.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"stale")
    with staged(root, "task-1", 1) as first, staged(root, "task-1", 1) as second:
        assert first != second and list(first.iterdir()) == list(second.iterdir()) == []
        (first / "a").write_bytes(b"a")
    assert sorted(p.name for p in (root / "task-1" / "1").iterdir()) == ["99-crashed"], "each removed only its own"
    assert leftover.read_bytes() == b"stale", "a crashed run's directory is the sweep's, after the TTL"


@pytest.mark.parametrize("task_id", ["x" * 128, "a.b-c_D9", "0", "A..b"])
def test_allowed_task_ids(root: Path, task_id: str) -> None:
    with staged(root, task_id, MAX_ATTEMPT) as directory:
        assert directory.parent == root / task_id / str(MAX_ATTEMPT)


@pytest.mark.parametrize(
    "task_id", ["../x", "a/b", "/abs", "..", ".", "", "x" * 129, ".hidden", "-x", "a\x00b", "a b", "é", 7]
)
def test_task_ids_that_could_escape_or_surprise_are_refused(root: Path, task_id: Any) -> None:
    with pytest.raises(FatalError, match=re.escape(TASK_ID_RULE)):
        with staged(root, task_id, 1):
            pass
    assert not root.exists()


@pytest.mark.parametrize("attempt", [0, -1, MAX_ATTEMPT + 1, True, "1", 1.0, None])
def test_attempts_other_than_small_positive_ints_are_refused(root: Path, attempt: Any) -> None:
    with pytest.raises(FatalError, match=re.escape(f"attempt must be an integer from 1 to {MAX_ATTEMPT}")):
        with staged(root, "task-1", attempt):
            pass
    assert not root.exists()


def test_a_symlinked_task_dir_is_refused_and_its_target_untouched(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    os.chmod(outside, 0o755)
    (outside / "keep").write_bytes(b"keep")
    root.mkdir()
    (root / "task-1").symlink_to(outside)
    with pytest.raises(StagingError, match=re.escape(f"{root / 'task-1'} is a symlink or a file, not a directory")):
        with staged(root, "task-1", 1):
            pass
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]
    assert _mode(outside) == 0o755


def test_a_symlinked_attempt_dir_is_refused_and_its_target_untouched(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"keep")
    (root / "task-1").mkdir(parents=True)
    (root / "task-1" / "1").symlink_to(outside)
    with pytest.raises(StagingError, match="is a symlink or a file, not a directory"):
        with staged(root, "task-1", 1):
            pass
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]


def test_a_file_in_place_of_the_root_is_refused(root: Path) -> None:
    root.write_bytes(b"")
    with pytest.raises(StagingError, match=re.escape(f"{root} is a symlink or a file, not a directory")):
        with staged(root, "task-1", 1):
            pass


def test_a_symlinked_root_stages_in_its_target(root: Path, tmp_path: Path) -> None:
    target = tmp_path / "big-disk"
    target.mkdir()
    root.symlink_to(target)
    with staged(root, "task-1", 1) as directory:
        assert directory.parent == target / "task-1" / "1"
        assert directory.is_dir()


# -- sweeping -----------------------------------------------------------------------------------


def test_sweep_removes_task_dirs_idle_for_longer_than_the_ttl(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "keep").write_bytes(b"keep")
    for name in ("old", "fresh", "old-but-busy"):
        (root / name / "1" / "sub").mkdir(parents=True)
        (root / name / "1" / "sub" / "f.parquet").write_bytes(b"x")
    (root / "old" / "1" / "escape").symlink_to(outside)
    (root / "stray-file").write_bytes(b"not a task dir")
    (root / "link-out").symlink_to(outside)
    for path in (root / "old", root / "old-but-busy", root / "stray-file", outside):
        _age(path, 25 * HOUR)
    _age(root / "fresh", 23 * HOUR)
    os.utime(root / "old-but-busy" / "1" / "sub" / "f.parquet", (NOW, NOW))

    removed = sweep_stale(root, 24, now=NOW)

    assert removed == [root.resolve() / "old"]
    assert sorted(p.name for p in root.iterdir()) == ["fresh", "link-out", "old-but-busy", "stray-file"]
    assert (outside / "deep" / "keep").read_bytes() == b"keep"


def test_sweep_uses_the_current_time_by_default(root: Path) -> None:
    (root / "old").mkdir(parents=True)
    _age(root / "old", NOW - 1_000_000)  # 1970-01-12
    (root / "new").mkdir()
    assert sweep_stale(root, 24) == [root.resolve() / "old"]


def test_sweep_of_a_missing_root_is_a_no_op(root: Path) -> None:
    assert sweep_stale(root, 24, now=NOW) == []


# -- settings -----------------------------------------------------------------------------------


def test_staging_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert staging_root({}) == DEFAULT_ROOT == Path("/tmp/trace/cryo")
    assert staging_root({"TRACE_CRYO_STAGING_DIR": ""}) == DEFAULT_ROOT
    assert staging_root({"TRACE_CRYO_STAGING_DIR": "/srv/stage"}) == Path("/srv/stage")
    assert staging_root({"TRACE_CRYO_STAGING_DIR": "rel/stage"}) == tmp_path / "rel" / "stage"


@pytest.mark.parametrize(("value", "hours"), [(None, 24.0), ("", 24.0), ("0.5", 0.5), (" 48 ", 48.0), ("1e1", 10.0)])
def test_staging_ttl_from_env(value: str | None, hours: float) -> None:
    env = {} if value is None else {"TRACE_CRYO_STAGING_TTL_HOURS": value}
    assert staging_ttl_hours(env) == hours


@pytest.mark.parametrize("value", ["abc", "24h", "0", "-1", "nan", "inf", "1,5"])
def test_staging_ttl_junk_is_refused_naming_the_variable(value: str) -> None:
    message = "TRACE_CRYO_STAGING_TTL_HOURS must be a positive number of hours, such as 24 or 0.5"
    with pytest.raises(ValueError, match=re.escape(message)):
        staging_ttl_hours({"TRACE_CRYO_STAGING_TTL_HOURS": value})


@pytest.mark.parametrize(("staging", "store"), [("s", "s"), ("s/inner", "s"), ("s", "s/inner")])
def test_staging_and_a_local_store_must_not_contain_each_other(tmp_path: Path, staging: str, store: str) -> None:
    with pytest.raises(StagingError, match="must not contain each other"):
        check_outside_store(tmp_path / staging, LocalStore(tmp_path / store))


def test_separate_staging_and_stores_are_accepted(tmp_path: Path) -> None:
    check_outside_store(tmp_path / "staging", LocalStore(tmp_path / "store"))
    check_outside_store(tmp_path / "staging", LocalStore(tmp_path / "staging-store"))
    check_outside_store(tmp_path / "staging", S3Store("cryo-test"))
