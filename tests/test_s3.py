"""The S3 store against moto's server over HTTP, with the fault proxy in front of it where a fault is wanted.

moto accepts any credentials unless told to check them (`S3Server.checking_credentials`), and never checks
an upload's checksum: the checksum tests look at what the requests carry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from trace_operators.contract import StorageRef, StoreAccessError, StoreError
from trace_operators.stores import S3Store, open_store, s3, s3_client
from trace_operators.stores.s3 import MiB
from trace_operators.stores.s3_client import DEFAULT_MAX_ATTEMPTS

from tests.conftest import FIXTURES
from tests.faultproxy import Delay, FaultProxy, Request, Reset, Respond
from tests.s3server import S3Bucket, S3Server
from tests.test_task import task

DAG = FIXTURES / "valid" / "bootstrap.yaml"
PAYLOAD = bytes(range(256)) * 40 + b"\r\n\x00end"
#: What a test's credentials look like; no message or traceback may show them.
SECRET_ID, SECRET_KEY = "AKIAEXAMPLEKEYID1234", "s3cr3t-Value-That-Must-Not-Leak"


@pytest.fixture
def proxy(s3_bucket: S3Bucket) -> Iterator[FaultProxy]:
    """The fault proxy in front of moto, with the test's bucket on it."""
    with FaultProxy(s3_bucket.endpoint) as proxy:
        yield proxy


def through(proxy: FaultProxy, moto_server: S3Server, **extra: str) -> dict[str, str]:
    """The AWS environment of moto's server reached through `proxy`."""
    return {**moto_server.env, "AWS_ENDPOINT_URL": proxy.url(), **extra}


def s3_answer(status: int, code: str) -> Respond:
    """An S3 error answer whose message echoes the credentials, as no message of ours may."""
    body = f"<Error><Code>{code}</Code><Message>for {SECRET_ID} / {SECRET_KEY}</Message></Error>"
    return Respond(status, body.encode(), {"Content-Type": "application/xml"})


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def told(error: BaseException) -> str:
    """Everything a log with the traceback would show of `error`."""
    return "".join(traceback.format_exception(error))


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _big(size: int = 12 * MiB) -> bytes:
    return bytes(range(256)) * (size // 256) + b"tail"


def uploads(bucket: S3Bucket) -> list[str]:
    """The keys of the multipart uploads in progress."""
    return [u["Key"] for u in bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])]


def is_part(request: Request) -> bool:
    return request.method == "PUT" and "partNumber=" in request.path


# -- objects, keys, threads ----------------------------------------------------------------------


def test_s3_keys_and_refs_carry_the_url_prefix(s3_bucket: S3Bucket) -> None:
    store = open_store(f"{s3_bucket.url}/some/prefix/")
    store.put_bytes(store.key("cryo/_SUCCESS"), b"{}")
    listed = s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name)["Contents"]
    assert [item["Key"] for item in listed] == ["some/prefix/cryo/_SUCCESS"]
    assert store.ref(store.key("cryo/")) == StorageRef("s3", "cryo-test", "some/prefix/cryo/", "*.parquet")


def test_s3_uploads_large_files_in_parts(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    store = S3Store(s3_bucket.name, part_bytes=5 * MiB)
    big = _big()
    store.put_file("big.parquet", _file(tmp_path, "big", big))
    store.put_file("small.parquet", _file(tmp_path, "small", PAYLOAD))

    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="big.parquet")
    assert head["ETag"].strip('"').endswith("-3"), "5 + 5 + 2 MiB"
    assert head["ContentLength"] == len(big)
    assert "-" not in s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="small.parquet")["ETag"]
    assert store.get_bytes("big.parquet") == big
    assert store.list_sizes("") == {"big.parquet": len(big), "small.parquet": len(PAYLOAD)}


def test_s3_parts_below_the_s3_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("part_bytes must be at least 5242880 (5 MiB)")):
        S3Store("cryo-test", part_bytes=MiB)


def test_s3_store_is_shared_by_threads_through_one_client(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []

    def counted(env: Mapping[str, str]) -> object:
        made.append(s3_client.new_client(env))
        return made[-1]

    monkeypatch.setattr(s3, "new_client", counted)
    store = open_store(s3_bucket.url)
    assert made == [], "made on first use"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.put_bytes(f"t/{i:02d}", bytes([i]) * i), range(1, 33)))
        assert all(pool.map(lambda i: store.create_bytes(f"c/{i:02d}", b"first"), range(1, 17)))
        assert not any(pool.map(lambda i: store.create_bytes(f"c/{i:02d}", b"again"), range(1, 17)))
    assert store.list_sizes("t/") == {f"t/{i:02d}": i for i in range(1, 33)}
    assert {store.get_bytes(f"c/{i:02d}") for i in range(1, 17)} == {b"first"}
    assert len(made) == 1


def test_s3_reads_its_settings_from_the_env_it_is_given(
    s3_bucket: S3Bucket, moto_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in moto_server.env:
        monkeypatch.delenv(name)
    store = open_store(s3_bucket.url, env=moto_server.env)
    store.put_bytes("k", b"through the given env")
    assert s3_bucket.client.get_object(Bucket=s3_bucket.name, Key="k")["Body"].read() == b"through the given env"


# -- conditional create, delete, aborted uploads -------------------------------------------------


def test_s3_create_bytes_creates_only_once(s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy) -> None:
    store = S3Store(s3_bucket.name, "p", env=through(proxy, moto_server))
    assert store.create_bytes("p/_SUCCESS", b"first") is True
    assert store.create_bytes("p/_SUCCESS", b"second") is False
    assert store.get_bytes("p/_SUCCESS") == b"first"
    assert [r.header("If-None-Match") for r in proxy.requests if r.method == "PUT"] == ["*", "*"]


def test_s3_delete_goes_in_batches_of_1000_and_missing_keys_are_no_error(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server))
    for key in ("d/a", "d/b", "keep/c"):
        store.put_bytes(key, b"x")
    proxy.requests.clear()
    store.delete(["d/a", *(f"d/missing-{i:04d}" for i in range(2000)), "d/b"])
    assert [r.path for r in proxy.requests] == ["/cryo-test?delete"] * 3
    assert store.list_sizes("") == {"keep/c": 1}
    proxy.requests.clear()
    store.delete([])
    assert proxy.requests == []


def test_s3_delete_checks_every_key_first(s3_bucket: S3Bucket) -> None:
    store = S3Store(s3_bucket.name)
    store.put_bytes("a", b"x")
    with pytest.raises(ValueError, match=re.escape("invalid object key '../b'")):
        store.delete(["a", "../b"])
    assert store.list_sizes("") == {"a": 1}


def test_s3_delete_reports_the_keys_s3_refused(s3_bucket: S3Bucket) -> None:
    store = S3Store(s3_bucket.name)
    for key in ("locked/a", "locked/b", "free/c"):
        store.put_bytes(key, b"x")
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject",
        "Resource": "arn:aws:s3:::cryo-test/locked/*",
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    s3_bucket.client.put_bucket_policy(Bucket=s3_bucket.name, Policy=policy)
    with pytest.raises(StoreAccessError) as caught:
        store.delete(["locked/a", "free/c", "locked/b"])
    assert str(caught.value) == (
        "S3 delete s3://cryo-test/locked/a failed: AccessDenied: the credentials in use may not do this: grant them "
        "s3:DeleteObject on bucket 'cryo-test' (and its KMS key, if it has one), or use others (and 1 more keys)"
    )
    assert store.list_sizes("") == {"locked/a": 1, "locked/b": 1}


def test_s3_abort_incomplete_aborts_the_uploads_under_the_prefix_only(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy
) -> None:
    for key in ("cryo/1/a.parquet", "cryo/1/deep/b.parquet", "cryo/10/c.parquet", "other/d.parquet"):
        s3_bucket.client.create_multipart_upload(Bucket=s3_bucket.name, Key=key)
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server))
    store.abort_incomplete("cryo/1/")
    assert sorted(uploads(s3_bucket)) == ["cryo/10/c.parquet", "other/d.parquet"]
    store.abort_incomplete("cryo/1/")  # nothing left there: no error

    # An upload its writer completed or aborted between the listing and the abort is no error either.
    with proxy.fault(lambda r: s3_answer(404, "NoSuchUpload") if r.method == "DELETE" else None):
        store.abort_incomplete("")
    assert len(uploads(s3_bucket)) == 2


def test_s3_failed_multipart_upload_is_aborted(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy, tmp_path: Path
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server, AWS_MAX_ATTEMPTS="1"), part_bytes=5 * MiB)
    with proxy.fault(lambda r: s3_answer(500, "InternalError") if is_part(r) and "partNumber=2" in r.path else None):
        with pytest.raises(
            StoreError, match=re.escape("S3 put s3://cryo-test/big.parquet failed: InternalError") + "$"
        ):
            store.put_file("big.parquet", _file(tmp_path, "big", _big()))
    assert uploads(s3_bucket) == []
    assert any(r.method == "DELETE" and "uploadId=" in r.path for r in proxy.requests), "AbortMultipartUpload"
    assert store.list_sizes("") == {}


def test_s3_interrupted_multipart_upload_is_aborted(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy, tmp_path: Path
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server), part_bytes=5 * MiB)
    interrupted: list[Request] = []

    def interrupt_at_first_part(request: Request) -> Delay | None:
        if not is_part(request):
            return None
        if not interrupted:
            interrupted.append(request)
            # Ctrl-C, while the parts are on their way: a real signal, which wakes the waiting main thread.
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        return Delay(0.5)

    # Ctrl-C as Python answers it by default, whatever handler a library of an earlier test left behind.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with proxy.fault(interrupt_at_first_part), pytest.raises(KeyboardInterrupt):
            store.put_file("big.parquet", _file(tmp_path, "big", _big()))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert interrupted, "the upload reached its parts"
    assert uploads(s3_bucket) == []
    assert not any(r.method == "POST" and "uploadId=" in r.path for r in proxy.requests), "never completed"
    assert any(r.method == "DELETE" and "uploadId=" in r.path for r in proxy.requests), "AbortMultipartUpload"
    assert store.list_sizes("") == {}


# -- checksums -----------------------------------------------------------------------------------


def test_s3_uploads_carry_their_sha256(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy, tmp_path: Path
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server), part_bytes=5 * MiB)
    store.put_bytes("manifest", b'{"version": 1}')
    store.create_bytes("_SUCCESS", b'{"ok": true}')
    store.put_file("small.parquet", _file(tmp_path, "small", PAYLOAD))
    puts = [r for r in proxy.requests if r.method == "PUT"]
    assert [(r.path, r.header("x-amz-checksum-sha256")) for r in puts] == [
        ("/cryo-test/manifest", b64_sha256(b'{"version": 1}')),
        ("/cryo-test/_SUCCESS", b64_sha256(b'{"ok": true}')),
        ("/cryo-test/small.parquet", b64_sha256(PAYLOAD)),
    ]
    assert all(r.body == data for r, data in zip(puts, (b'{"version": 1}', b'{"ok": true}', PAYLOAD)))

    proxy.requests.clear()
    big = _big()
    store.put_file("big.parquet", _file(tmp_path, "big", big))
    (create,) = [r for r in proxy.requests if r.method == "POST" and r.path.endswith("?uploads")]
    assert create.header("x-amz-checksum-algorithm") == "SHA256"
    parts = sorted((r for r in proxy.requests if is_part(r)), key=lambda r: r.path)
    assert [len(r.body) for r in parts] == [5 * MiB, 5 * MiB, len(big) - 10 * MiB]
    assert b"".join(r.body for r in parts) == big
    assert all(r.header("x-amz-checksum-sha256") == b64_sha256(r.body) for r in parts)
    (complete,) = [r for r in proxy.requests if r.method == "POST" and "uploadId=" in r.path]
    assert all(f"<ChecksumSHA256>{b64_sha256(r.body)}</ChecksumSHA256>".encode() in complete.body for r in parts)


# -- what is retried, and how often --------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(500, "InternalError"), (503, "SlowDown"), (503, "ServiceUnavailable")])
def test_s3_server_errors_are_retried_then_retryable(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy, status: int, code: str
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server))
    with proxy.fault(lambda r: s3_answer(status, code)), pytest.raises(StoreError) as caught:
        store.put_bytes("k", b"x")
    assert str(caught.value) == f"S3 put s3://cryo-test/k failed: {code}"
    assert len(proxy.requests) == DEFAULT_MAX_ATTEMPTS


def test_s3_a_server_error_that_passes_is_retried_to_success(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server))
    with proxy.fault(lambda r: s3_answer(503, "SlowDown") if len(proxy.requests) < DEFAULT_MAX_ATTEMPTS else None):
        store.put_bytes("k", b"third time")
    assert len(proxy.requests) == DEFAULT_MAX_ATTEMPTS
    assert store.get_bytes("k") == b"third time"


def test_s3_connection_resets_are_retried_then_retryable(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server))
    store.put_bytes("k", PAYLOAD)
    proxy.requests.clear()
    with proxy.fault(lambda r: Reset(after=None, forward=False)), pytest.raises(StoreError) as caught:
        store.put_bytes("k", b"lost on the way")
    assert str(caught.value) == "S3 put s3://cryo-test/k failed: ConnectionClosedError"
    assert len(proxy.requests) == DEFAULT_MAX_ATTEMPTS

    # Mid-body, the answer has been taken: the read fails once, and the task's next attempt reads again.
    proxy.requests.clear()
    with proxy.fault(lambda r: Reset(after=100)), pytest.raises(StoreError) as caught:
        store.get_bytes("k")
    assert str(caught.value) == "S3 get s3://cryo-test/k failed: ResponseStreamingError"
    assert len(proxy.requests) == 1
    assert store.get_bytes("k") == PAYLOAD


def test_s3_attempts_follow_aws_max_attempts_and_the_profile(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nmax_attempts = 1\n[profile two]\nmax_attempts = 2\n")
    profile = {"AWS_CONFIG_FILE": str(config)}
    cases = [
        ({"AWS_MAX_ATTEMPTS": "1"}, 1),
        (profile, 1),
        ({**profile, "AWS_PROFILE": "two"}, 2),
        ({**profile, "AWS_PROFILE": "two", "AWS_MAX_ATTEMPTS": "1"}, 1),  # the environment wins, as in botocore
    ]
    with proxy.fault(lambda r: s3_answer(503, "SlowDown")):
        for settings, attempts in cases:
            proxy.requests.clear()
            with pytest.raises(StoreError, match="SlowDown"):
                S3Store(s3_bucket.name, env=through(proxy, moto_server, **settings)).get_bytes("k")
            assert len(proxy.requests) == attempts, settings


def test_s3_retry_mode_is_standard_unless_configured(
    s3_bucket: S3Bucket, moto_server: S3Server, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[profile legacy]\nretry_mode = legacy\n")

    def retries(**settings: str) -> dict[str, object]:
        store = S3Store(s3_bucket.name, env={**moto_server.env, **settings})
        store.list_sizes("")  # the client is made on first use
        return dict(store._s3().meta.config.retries)

    assert retries() == {"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert retries(AWS_RETRY_MODE="adaptive") == {"mode": "adaptive", "total_max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert retries(AWS_CONFIG_FILE=str(config), AWS_PROFILE="legacy")["mode"] == "legacy"


def test_s3_hung_endpoint_fails_in_under_a_minute_with_every_retry(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy
) -> None:
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server))
    began = time.monotonic()
    # A GET: the proxy forwards each request once its delay is over, long after the test.
    with proxy.fault(lambda r: Delay(120)), pytest.raises(StoreError) as caught:
        store.get_bytes("k")
    assert str(caught.value) == "S3 get s3://cryo-test/k failed: ReadTimeoutError"
    assert len(proxy.requests) == DEFAULT_MAX_ATTEMPTS
    assert time.monotonic() - began < 60


def test_s3_unreachable_endpoint_is_a_store_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1",
    }
    with pytest.raises(StoreError, match=re.escape("S3 get s3://cryo-test/k failed: EndpointConnectionError")):
        S3Store("cryo-test", env=env).get_bytes("k")


# -- what is fatal -------------------------------------------------------------------------------


def test_s3_missing_bucket_is_fatal_at_once_for_every_operation(
    moto_server: S3Server, proxy: FaultProxy, tmp_path: Path
) -> None:
    env = through(proxy, moto_server, AWS_ACCESS_KEY_ID=SECRET_ID, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    store = S3Store("no-such-bucket", "pre", env=env)
    source = _file(tmp_path, "a", PAYLOAD)
    calls = {
        "put s3://no-such-bucket/pre/k": lambda: store.put_bytes(store.key("k"), b"x"),
        "put s3://no-such-bucket/pre/f": lambda: store.put_file(store.key("f"), source),
        "create s3://no-such-bucket/pre/k": lambda: store.create_bytes(store.key("k"), b"x"),
        "get s3://no-such-bucket/pre/k": lambda: store.get_bytes(store.key("k")),
        "list s3://no-such-bucket/pre/": lambda: store.list_sizes(store.key("")),
        "delete s3://no-such-bucket/pre/k": lambda: store.delete([store.key("k")]),
        "abort s3://no-such-bucket/pre/": lambda: store.abort_incomplete(store.key("")),
    }
    for where, call in calls.items():
        proxy.requests.clear()
        with pytest.raises(StoreAccessError) as caught:
            call()
        assert str(caught.value) == (
            f"S3 {where} failed: NoSuchBucket: bucket 'no-such-bucket' does not exist; create it or fix the store "
            "URL (--store or TRACE_CRYO_STORE)"
        )
        assert len(proxy.requests) == 1, where
        assert SECRET_KEY not in told(caught.value) and SECRET_ID not in told(caught.value)


@pytest.fixture
def no_aws_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No credentials anywhere: none in the environment, empty config files, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    settings = {
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


def test_s3_missing_credentials_are_fatal_and_say_what_to_set(
    moto_server: S3Server, proxy: FaultProxy, no_aws_setup: dict[str, str]
) -> None:
    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": proxy.url(), **no_aws_setup}
    with pytest.raises(StoreAccessError) as caught:
        S3Store("cryo-test", env=env).put_bytes("k", b"x")
    assert str(caught.value) == (
        "S3 put s3://cryo-test/k failed: NoCredentialsError: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on a role"
    )
    assert proxy.requests == []


@pytest.mark.parametrize(
    ("given", "missing"),
    [("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")],
)
def test_s3_half_a_key_pair_is_fatal(
    moto_server: S3Server, proxy: FaultProxy, no_aws_setup: dict[str, str], given: str, missing: str
) -> None:
    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": proxy.url(), **no_aws_setup, given: SECRET_KEY}
    with pytest.raises(StoreAccessError) as caught:
        S3Store("cryo-test", env=env).get_bytes("k")
    assert str(caught.value) == (
        f"S3 get s3://cryo-test/k failed: PartialCredentialsError: incomplete AWS credentials (env): {missing} is "
        "missing; set the access key ID and the secret access key together"
    )
    assert SECRET_KEY not in told(caught.value)
    assert proxy.requests == []


def test_s3_unknown_profile_is_fatal(moto_server: S3Server, no_aws_setup: dict[str, str]) -> None:
    env = {**moto_server.env, **no_aws_setup, "AWS_PROFILE": "nowhere"}
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    with pytest.raises(StoreAccessError) as caught:
        S3Store("cryo-test", env=env).list_sizes("")
    assert str(caught.value) == (
        "S3 list s3://cryo-test/ failed: ProfileNotFound: AWS profile 'nowhere' is in no AWS config file; fix "
        "AWS_PROFILE or AWS_CONFIG_FILE"
    )


def test_s3_credentials_the_server_refuses_are_fatal(s3_bucket: S3Bucket, moto_server: S3Server) -> None:
    writer = moto_server.iam_user("writer", ["s3:*"])
    reader = moto_server.iam_user("reader", ["s3:GetObject"])
    cases = {
        "InvalidAccessKeyId: the endpoint knows no such access key ID; fix AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or the profile's keys (or AWS_ENDPOINT_URL)": {
            **writer,
            "AWS_ACCESS_KEY_ID": SECRET_ID,
        },
        "SignatureDoesNotMatch: the secret access key does not match the access key ID; fix AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or the profile's keys": {**writer, "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
        "AccessDenied: the credentials in use may not do this: grant them s3:PutObject on bucket 'cryo-test' (and "
        "its KMS key, if it has one), or use others": reader,
    }
    with moto_server.checking_credentials():
        S3Store(s3_bucket.name, env={**moto_server.env, **writer}).put_bytes("k", b"by the writer")
        assert S3Store(s3_bucket.name, env={**moto_server.env, **reader}).get_bytes("k") == b"by the writer"
        for advice, credentials in cases.items():
            with pytest.raises(StoreAccessError) as caught:
                S3Store(s3_bucket.name, env={**moto_server.env, **credentials}).put_bytes("k", b"x")
            assert str(caught.value) == f"S3 put s3://cryo-test/k failed: {advice}"
            for secret in (SECRET_ID, SECRET_KEY, writer["AWS_SECRET_ACCESS_KEY"], reader["AWS_SECRET_ACCESS_KEY"]):
                assert secret not in told(caught.value)


#: Refusals moto cannot be made to give: the status and the start of our advice for each code.
REFUSALS = {
    "ExpiredToken": (400, "the session token has expired; renew the credentials"),
    "InvalidToken": (400, "the session token is not valid; fix AWS_SESSION_TOKEN or the profile's"),
    "AllAccessDisabled": (403, "all access to bucket 'cryo-test' is disabled; fix the store URL"),
    "InvalidBucketName": (400, "'cryo-test' is not a valid bucket name; fix the store URL"),
    "AccountProblem": (403, "the AWS account of these credentials is blocked from S3"),
}


@pytest.mark.parametrize("code", REFUSALS)
def test_s3_refusals_moto_cannot_make_are_fatal_too(
    s3_bucket: S3Bucket, moto_server: S3Server, proxy: FaultProxy, code: str
) -> None:
    status, advice = REFUSALS[code]
    store = S3Store(s3_bucket.name, env=through(proxy, moto_server))
    with proxy.fault(lambda r: s3_answer(status, code)), pytest.raises(StoreAccessError) as caught:
        store.put_bytes("k", b"x")
    assert str(caught.value).startswith(f"S3 put s3://cryo-test/k failed: {code}: {advice}")
    assert len(proxy.requests) == 1
    assert SECRET_KEY not in str(caught.value)


# -- through the CLI -----------------------------------------------------------------------------


def test_cli_run_on_a_missing_bucket_is_fatal_in_one_request(cli, moto_server: S3Server, proxy: FaultProxy) -> None:
    flags = "--job cryo_bootstrap --start-block 0 --end-block 999 --store s3://missing-bucket"
    done = cli("run", str(DAG), *flags.split(), extra_env=through(proxy, moto_server))
    assert done.returncode == 1, done.stderr
    assert "failed cryo_bootstrap-0-999 (attempt 1, fatal_error): S3 get s3://missing-bucket/cryo/10143/" in done.stdout
    assert "NoSuchBucket: bucket 'missing-bucket' does not exist; create it or fix the store URL" in done.stdout
    assert len(proxy.requests) == 1


def test_cli_task_on_a_missing_bucket_is_a_fatal_result(cli, moto_server: S3Server, proxy: FaultProxy) -> None:
    done = cli("task", "-", "--store", "s3://missing-bucket", input=task(), extra_env=through(proxy, moto_server))
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["outcome"] == "fatal_error"
    assert "NoSuchBucket: bucket 'missing-bucket' does not exist" in result["error_message"]
    assert len(proxy.requests) == 1
