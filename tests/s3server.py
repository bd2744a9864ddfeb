"""Pytest fixtures: moto's S3 server over real HTTP on a loopback port, and a fresh bucket per test."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

REGION = "us-east-1"
BUCKET = "cryo-test"
#: What boto3 needs to reach the server; static test credentials that moto accepts.
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: Settings that would steer boto3 away from the server or mix in a developer's own AWS setup.
_UNSET = ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_SECURITY_TOKEN")


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """The AWS environment that points boto3 (and a child process) at this server."""
        return {
            **_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    def reset(self) -> None:
        """Forget every bucket, object and IAM user."""
        self._post("/moto-api/reset")

    @contextmanager
    def checking_credentials(self) -> Iterator[None]:
        """Signatures and IAM policies checked in the block (moto accepts any credentials otherwise)."""
        self._post("/moto-api/reset-auth", b"0")
        try:
            yield
        finally:
            self._post("/moto-api/reset-auth", b"inf")

    def iam_user(self, name: str, allow: list[str]) -> dict[str, str]:
        """`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` of a new IAM user allowed the `allow` actions everywhere."""
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION, **_client_credentials())
        iam.create_user(UserName=name)
        if allow:
            statement = {"Effect": "Allow", "Action": allow, "Resource": "*"}
            policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
            iam.put_user_policy(UserName=name, PolicyName="allow", PolicyDocument=policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

    def _post(self, path: str, body: bytes = b"") -> None:
        # text/plain: moto reads reset-auth's count from the raw body, which a form type would swallow.
        request = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10):
            pass


@dataclass(frozen=True)
class S3Bucket:
    name: str
    url: str
    endpoint: str
    #: A boto3 S3 client of its own, for assertions.
    client: Any


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 and a free port, for the whole session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        pytest.fail(f"moto's S3 server is needed ({exc}): pip install 'cryo-ingest[test]'", pytrace=False)
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # one line a request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
        werkzeug_log.setLevel(level)


@pytest.fixture
def s3_bucket(moto_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """An empty bucket on a reset server, with the AWS environment pointing at it for this test only."""
    import boto3

    moto_server.reset()
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in moto_server.env.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name=REGION, **_client_credentials())
    client.create_bucket(Bucket=BUCKET)
    return S3Bucket(name=BUCKET, url=f"s3://{BUCKET}", endpoint=moto_server.endpoint, client=client)


def _client_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": _CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": _CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
