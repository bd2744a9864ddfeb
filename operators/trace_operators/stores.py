"""Object stores a publication goes to: a local directory or S3 (SPEC §9 `--store`)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol
from urllib.parse import unquote, urlsplit

from trace_operators.contract import StorageRef

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

ACCEPTED_FORMS = "a local path, file:///absolute/path or s3://bucket[/prefix]"
MiB = 1024 * 1024
#: S3 refuses parts smaller than this, except the last one.
MIN_PART_BYTES = 5 * MiB

#: A value starting with `scheme:` is read as a URL (so `http://…` is refused, not taken for a path).
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
#: Today's S3 bucket naming rules, shape only.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TEMP_MARK = ".tmp-"


class StoreError(Exception):
    """An object-store failure; the runtime treats it as retryable."""


class ObjectStore(Protocol):
    """Where publications go. Keys are full object keys, `/`-separated; prefixes end in `/`."""

    scheme: str
    #: s3: the bucket name; file: the absolute root directory.
    bucket: str

    def key(self, relative: str) -> str:
        """The full object key of `relative`: the store's own prefix joined with it."""

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """Every object key under `prefix`, with its size in bytes."""

    def ref(self, prefix: str) -> StorageRef: ...


def open_store(url: str, env: Mapping[str, str] = os.environ) -> ObjectStore:
    """The store named by a local path, a `file://` URL or `s3://bucket[/prefix]`."""
    if not url.strip():
        raise ValueError(f"the store is empty: give {ACCEPTED_FORMS}")
    match = _URL_SCHEME.match(url)
    if match is None:
        return LocalStore(Path(url))
    scheme = match.group(1).lower()
    if scheme == "file":
        return LocalStore(_file_url_path(url))
    if scheme == "s3":
        bucket, prefix = _parse_s3_url(url)
        return S3Store(bucket, prefix, env=env)
    raise ValueError(f"store scheme {scheme!r} is not supported: give {ACCEPTED_FORMS}")


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise ValueError(f"a file store URL names a local path, as file:///absolute/path; give {ACCEPTED_FORMS}")
    path = Path(unquote(parts.path))
    if not path.is_absolute():
        raise ValueError(f"a file store URL needs an absolute path, as file:///absolute/path; give {ACCEPTED_FORMS}")
    return path


def _parse_s3_url(url: str) -> tuple[str, str]:
    """Bucket and key prefix of an `s3://` URL; the URL itself is never echoed."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ValueError(
            "credentials do not belong in the store URL: S3 credentials come from the standard AWS environment"
        )
    if not url[3:].startswith("//") or parts.query or parts.fragment:
        raise ValueError(f"an S3 store is written s3://bucket[/prefix]; give {ACCEPTED_FORMS}")
    if not _BUCKET.match(parts.netloc):
        raise ValueError(
            "an S3 store needs a bucket name of 3 to 63 lowercase letters, digits, '.' and '-', starting and "
            f"ending with a letter or digit, as s3://bucket[/prefix]; give {ACCEPTED_FORMS}"
        )
    return parts.netloc, parts.path.strip("/")


def check_key(key: str, *, prefix: bool = False) -> str:
    """Refuse a key that is not plain `/`-separated names (it could escape a local root); return it.

    With `prefix`, the empty key and a trailing `/` are allowed too.
    """
    if prefix and key == "":
        return key
    body = key[:-1] if prefix and key.endswith("/") else key
    if "\\" in key or "\x00" in key or any(part in ("", ".", "..") for part in body.split("/")):
        raise ValueError(
            f"invalid object key {key!r}: keys are '/'-separated names, with no leading '/', no empty, "
            "'.' or '..' part and no backslash"
        )
    return key


def _join(prefix: str, relative: str) -> str:
    return prefix + check_key(relative, prefix=True)


class LocalStore:
    """A directory standing in for a bucket; every object appears whole (temporary name, then rename)."""

    scheme = "file"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.bucket = str(self.root)

    def key(self, relative: str) -> str:
        return _join("", relative)

    def put_file(self, key: str, path: Path) -> None:
        # A hard link costs nothing when staging shares the file system; else copy. Never a rename:
        # the source belongs to staging, which cleans up on its own.
        self._put(key, lambda tmp: _link_or_copy(path, tmp))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._put(key, lambda tmp: tmp.write_bytes(data))

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

    def _put(self, key: str, write: Callable[[Path], Any]) -> None:
        dest = self._path(key)
        if _is_temp(dest.name):
            raise ValueError(f"invalid object key {key!r}: names like '.x{_TEMP_MARK}…' are temporary files here")
        # Hidden and not ending in .parquet, so no reader or listing ever mistakes it for an object.
        tmp = dest.with_name(f".{dest.name}{_TEMP_MARK}{secrets.token_hex(6)}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                write(tmp)
                os.replace(tmp, dest)
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


def _walk_sizes(root: Path, top: str) -> list[tuple[str, int]]:
    """(key, size) of every regular file under `root/top`, symlinks and temporary files left out."""
    found: list[tuple[str, int]] = []
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
            elif entry.is_file(follow_symlinks=False) and not _is_temp(entry.name):
                found.append((key, entry.stat(follow_symlinks=False).st_size))
    return found


def _local_error(operation: str, key: str, exc: OSError) -> StoreError:
    return StoreError(f"local store {operation} {key!r} failed: {exc.strerror or type(exc).__name__}")


class S3Store:
    """An S3 bucket (or any S3-compatible store) through boto3; thread-safe.

    Endpoint, region, profile and static credentials are read from `env` when it holds them
    (`AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_PROFILE`,
    `AWS_ACCESS_KEY_ID` and friends); anything else comes from boto3's default chain (config
    files, container and instance roles).
    """

    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        env: Mapping[str, str] = os.environ,
        part_bytes: int = 64 * MiB,
        max_attempts: int = 8,
    ) -> None:
        """Objects larger than `part_bytes` are uploaded in parts of that size."""
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"part_bytes must be at least {MIN_PART_BYTES} (5 MiB), S3's smallest part")
        self.bucket = bucket
        # Every key of the store starts with `prefix/`: "a/b" and "a/b/" name the same place.
        trimmed = prefix.rstrip("/")
        self.prefix = check_key(trimmed) + "/" if trimmed else ""
        self._env = dict(env)
        self._part_bytes = part_bytes
        self._max_attempts = max_attempts
        self._client: Any = None
        self._lock = threading.Lock()

    def key(self, relative: str) -> str:
        return _join(self.prefix, relative)

    def put_file(self, key: str, path: Path) -> None:
        with self._errors("put", key):
            self._s3().upload_file(str(path), self.bucket, check_key(key), Config=self._transfer_config())

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors("put", key):
            self._s3().put_object(Bucket=self.bucket, Key=check_key(key), Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self._errors("get", key):
            try:
                response = self._s3().get_object(Bucket=self.bucket, Key=check_key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
            return response["Body"].read()

    def list_sizes(self, prefix: str) -> dict[str, int]:
        with self._errors("list", prefix):
            pages = self._s3().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=check_key(prefix, prefix=True)
            )
            return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", ())}

    def ref(self, prefix: str) -> StorageRef:
        return StorageRef(self.scheme, self.bucket, check_key(prefix, prefix=True))

    def _s3(self) -> Any:
        """The store's one client, created on first use (clients are thread-safe; sessions are not)."""
        with self._lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> Any:
        import boto3
        from botocore.config import Config

        env = self._env
        session = boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            profile_name=env.get("AWS_PROFILE") or None,
        )
        config = Config(
            # botocore's standard mode retries throttling (503 SlowDown, 429), 5xx and connection
            # errors with exponential backoff and jitter, under a client-wide retry quota.
            retries={"mode": "standard", "max_attempts": self._max_attempts},
            connect_timeout=10,
            # The runtime uploads from many task threads at once, each transfer with its own parts.
            max_pool_connections=64,
        )
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        return session.client("s3", endpoint_url=endpoint, config=config)

    def _transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        # Four parts in flight per file: a worker has one vCPU and runs several tasks at once.
        return TransferConfig(
            multipart_threshold=self._part_bytes, multipart_chunksize=self._part_bytes, max_concurrency=4
        )

    @contextmanager
    def _errors(self, operation: str, key: str) -> Iterator[None]:
        """Turn any boto3 or botocore error into a `StoreError` naming the operation, object and error code."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError, Boto3Error, OSError) as exc:  # OSError: reading the local file
            # Only the code: server messages and botocore's own texts may carry endpoints or paths.
            raise StoreError(f"S3 {operation} s3://{self.bucket}/{key} failed: {_error_code(exc)}") from exc


def _error_code(exc: BaseException) -> str:
    """The S3 error code (`NoSuchBucket`, `AccessDenied`, …), else the error's class name."""
    from botocore.exceptions import ClientError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ClientError):
            return str(cause.response.get("Error", {}).get("Code") or "unknown error")
        # boto3's S3UploadFailedError wraps the ClientError only as the implicit context.
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__
