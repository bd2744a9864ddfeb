"""Object stores a publication goes to: a local directory or S3, named by a URL (SPEC §9 `--store`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trace_operators.contract import ObjectStore
from trace_operators.stores.local import LocalStore
from trace_operators.stores.s3 import S3Store

ACCEPTED_FORMS = "a local path, file:///absolute/path or s3://bucket[/prefix]"

#: A value starting with `scheme:` is read as a URL (so `http://…` is refused, not taken for a path).
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
#: Today's S3 bucket naming rules, shape only.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

__all__ = ["ACCEPTED_FORMS", "LocalStore", "S3Store", "open_store"]


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
