"""An S3 bucket, or any S3-compatible store, through boto3."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trace_operators.contract import StorageRef
from trace_operators.stores.keys import check_key, join_key
from trace_operators.stores.s3_client import new_client
from trace_operators.stores.s3_errors import coded_error, error_code, store_error

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

MiB = 1024 * 1024
#: S3 refuses parts smaller than this, except the last one.
MIN_PART_BYTES = 5 * MiB
#: DeleteObjects takes at most this many keys a request.
DELETE_BATCH = 1000
#: Every upload carries it, so S3 refuses a body that is not what we sent.
CHECKSUM = "SHA256"


class S3Store:
    """An S3 bucket (or any S3-compatible store) through boto3; thread-safe.

    `env` stands for the process environment (see `s3_client.new_client`): its AWS variables win over
    os.environ's; anything else comes from boto3's default chain (config files, container and instance roles).
    """

    scheme = "s3"

    def __init__(
        self, bucket: str, prefix: str = "", *, env: Mapping[str, str] = os.environ, part_bytes: int = 64 * MiB
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
        self._client: Any = None
        self._lock = threading.Lock()

    def key(self, relative: str) -> str:
        return join_key(self.prefix, relative)

    def put_file(self, key: str, path: Path) -> None:
        # boto3's transfer manager aborts a multipart upload that fails or is interrupted, and waits for
        # its parts in flight first; what a killed process leaves is for `abort_incomplete`.
        with self._errors("put", key):
            self._s3().upload_file(
                str(path),
                self.bucket,
                check_key(key),
                ExtraArgs={"ChecksumAlgorithm": CHECKSUM},
                Config=self._transfer_config(),
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors("put", key):
            self._put_object(key, data)

    def create_bytes(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        with self._errors("create", key):
            try:
                self._put_object(key, data, IfNoneMatch="*")
            except ClientError as exc:
                if error_code(exc) == "PreconditionFailed":
                    return False
                raise
            return True

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self._errors("get", key):
            try:
                response = self._s3().get_object(Bucket=self.bucket, Key=check_key(key))
            except ClientError as exc:
                if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
            data: bytes = response["Body"].read()
            return data

    def delete(self, keys: Iterable[str]) -> None:
        # All checked before any is deleted.
        checked = [check_key(key) for key in keys]
        for start in range(0, len(checked), DELETE_BATCH):
            batch = checked[start : start + DELETE_BATCH]
            with self._errors("delete", batch[0]):
                response = self._s3().delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
                )
            # DeleteObjects answers 200 and lists the keys it could not delete; a missing key is not one.
            if failed := response.get("Errors"):
                more = f" (and {len(failed) - 1} more keys)" if len(failed) > 1 else ""
                first = failed[0]
                raise coded_error("delete", self.bucket, first["Key"], first.get("Code") or "unknown error", more=more)

    def abort_incomplete(self, prefix: str) -> None:
        from botocore.exceptions import ClientError

        with self._errors("abort", prefix):
            s3 = self._s3()
            pages = s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=check_key(prefix, prefix=True)
            )
            for upload in [upload for page in pages for upload in page.get("Uploads", ())]:
                try:
                    s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                except ClientError as exc:
                    # Its writer completed or aborted it since the listing.
                    if error_code(exc) != "NoSuchUpload":
                        raise

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

    def _put_object(self, key: str, data: bytes, **conditions: str) -> None:
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self._s3().put_object(Bucket=self.bucket, Key=check_key(key), Body=data, ChecksumSHA256=digest, **conditions)

    def _s3(self) -> Any:
        """The store's one client, created on first use (clients are thread-safe; sessions are not)."""
        with self._lock:
            if self._client is None:
                self._client = new_client(self._env)
            return self._client

    def _transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        # Four parts in flight per file: a worker has one vCPU and runs several tasks at once.
        return TransferConfig(
            multipart_threshold=self._part_bytes, multipart_chunksize=self._part_bytes, max_concurrency=4
        )

    @contextmanager
    def _errors(self, operation: str, key: str) -> Iterator[None]:
        """Turn any boto3 or botocore error into a `StoreAccessError` or `StoreError` naming operation and object."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError, Boto3Error, OSError) as exc:  # OSError: reading the local file
            raise store_error(operation, self.bucket, key, exc) from exc
