"""A local directory standing in for a bucket; every object appears whole."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trace_operators.contract import StorageRef, StoreError
from trace_operators.stores.keys import check_key, join_key

_TEMP_MARK = ".tmp-"


def _replace(tmp: Path, dest: Path) -> bool:
    os.replace(tmp, dest)
    return True


def _link_if_absent(tmp: Path, dest: Path) -> bool:
    """Link `tmp` at `dest` unless something is there: atomic and exclusive, so the first writer wins, whole."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        return False
    return True


class LocalStore:
    """A directory standing in for a bucket; every object appears whole (temporary name, then rename)."""

    scheme = "file"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.bucket = str(self.root)

    def key(self, relative: str) -> str:
        return join_key("", relative)

    def put_file(self, key: str, path: Path) -> None:
        # A hard link costs nothing when staging shares the file system; else copy. Never a rename:
        # the source belongs to staging, which cleans up on its own.
        self._put(key, lambda tmp: _link_or_copy(path, tmp))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._put(key, lambda tmp: tmp.write_bytes(data))

    def create_bytes(self, key: str, data: bytes) -> bool:
        return self._put(key, lambda tmp: tmp.write_bytes(data), place=_link_if_absent)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            try:
                self._path(key).unlink(missing_ok=True)
            except OSError as exc:
                raise _local_error("delete", key, exc) from exc

    def abort_incomplete(self, prefix: str) -> None:
        check_key(prefix, prefix=True)
        top = prefix.rpartition("/")[0]
        try:
            for key in _walk(self.root, top, temporary=True):
                # A live writer's file is its own: removing it would fail that writer's rename.
                if key.startswith(prefix) and not _writer_alive(key):
                    (self.root / key).unlink(missing_ok=True)
        except OSError as exc:
            raise _local_error("abort", prefix, exc) from exc

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise _local_error("get", key, exc) from exc

    def list_sizes(self, prefix: str) -> dict[str, int]:
        check_key(prefix, prefix=True)
        top = prefix.rpartition("/")[0]
        try:
            return {key: size for key, size in _walk_sizes(self.root, top) if key.startswith(prefix)}
        except OSError as exc:
            raise _local_error("list", prefix, exc) from exc

    def ref(self, prefix: str) -> StorageRef:
        return StorageRef(self.scheme, self.bucket, check_key(prefix, prefix=True))

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _put(self, key: str, write: Callable[[Path], Any], place: Callable[[Path, Path], bool] = _replace) -> bool:
        """Write a temporary file, then `place` it at the key's path; what `place` says."""
        dest = self._path(key)
        if _is_temp(dest.name):
            raise ValueError(f"invalid object key {key!r}: names like '.x{_TEMP_MARK}…' are temporary files here")
        # Hidden and not ending in .parquet, so no reader or listing ever mistakes it for an object.
        tmp = dest.with_name(f".{dest.name}{_TEMP_MARK}{os.getpid()}-{secrets.token_hex(6)}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                write(tmp)
                return place(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)  # gone already after the rename; left over after a failure
        except OSError as exc:
            raise _local_error("put", key, exc) from exc


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _is_temp(name: str) -> bool:
    return name.startswith(".") and _TEMP_MARK in name


def _writer_alive(key: str) -> bool:
    """Whether the process that named a temporary file (`.x.tmp-{pid}-{token}`) still runs on this machine."""
    pid = key.rpartition(_TEMP_MARK)[2].partition("-")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def _walk_sizes(root: Path, top: str) -> list[tuple[str, int]]:
    """(key, size) of every regular file under `root/top`, symlinks and temporary files left out."""
    return [(key, (root / key).lstat().st_size) for key in _walk(root, top)]


def _walk(root: Path, top: str, temporary: bool = False) -> list[str]:
    """The key of every regular file under `root/top`, symlinks left out; only temporary files, or none of them."""
    found: list[str] = []
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(root / directory if directory else root))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            key = f"{directory}/{entry.name}" if directory else entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append(key)
            elif entry.is_file(follow_symlinks=False) and _is_temp(entry.name) == temporary:
                found.append(key)
    return found


def _local_error(operation: str, key: str, exc: OSError) -> StoreError:
    return StoreError(f"local store {operation} {key!r} failed: {exc.strerror or type(exc).__name__}")
