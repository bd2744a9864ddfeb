"""An S3 bucket, or any S3-compatible store, through boto3."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trace_operators.contract import StorageRef, StoreError
from trace_operators.stores.keys import check_key, join_key

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

MiB = 1024 * 1024
#: S3 refuses parts smaller than this, except the last one.
MIN_PART_BYTES = 5 * MiB


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
        return join_key(self.prefix, relative)

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
            data: bytes = response["Body"].read()
            return data

    def list_sizes(self, prefix: str) -> dict[str, int]:
        with self._errors("list", prefix):
            pages = (
                self._s3()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=self.bucket, Prefix=check_key(prefix, prefix=True))
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
