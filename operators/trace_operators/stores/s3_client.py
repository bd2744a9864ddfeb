"""The boto3 S3 client of a store: settings from the environment it is given, our retry and timeout defaults.

`env` stands for the process environment. Every botocore setting it holds (`AWS_PROFILE`, `AWS_CONFIG_FILE`,
`AWS_SHARED_CREDENTIALS_FILE`, `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`, `AWS_CA_BUNDLE`, …) wins over os.environ's,
and so do `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`, `AWS_REGION`/`AWS_DEFAULT_REGION` and the static
credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Attempts per request (the first and two retries) unless `AWS_MAX_ATTEMPTS` or the profile say otherwise.
DEFAULT_MAX_ATTEMPTS = 3
#: Seconds. A hung endpoint fails a request in 3 x 10 s plus at most 3 s of backoff: under a minute.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10


def new_client(env: Mapping[str, str]) -> Any:
    """A new S3 client configured by `env`; clients are thread-safe, the sessions that make them are not."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import PartialCredentialsError

    key_id, secret = env.get("AWS_ACCESS_KEY_ID") or None, env.get("AWS_SECRET_ACCESS_KEY") or None
    if (key_id is None) != (secret is None):
        # boto3 would sign with half a key pair and leave the server to refuse it.
        raise PartialCredentialsError(
            provider="env", cred_var="AWS_SECRET_ACCESS_KEY" if key_id else "AWS_ACCESS_KEY_ID"
        )
    session = boto3.session.Session(
        botocore_session=_botocore_session(env),
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
    )
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        # The runtime uploads from many task threads at once, each transfer with its own parts.
        max_pool_connections=64,
    )
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    return session.client("s3", endpoint_url=endpoint, config=config)


def _botocore_session(env: Mapping[str, str]) -> Any:
    """A botocore session that reads its settings from `env` first, with our retry defaults."""
    import botocore.session

    # The defaults sit in botocore's own lookup, so AWS_RETRY_MODE, AWS_MAX_ATTEMPTS and the profile's
    # retry_mode and max_attempts still win. Standard mode retries throttling (503 SlowDown, 429), 5xx
    # and connection errors with exponential backoff and jitter, under a client-wide retry quota.
    session = botocore.session.Session(
        session_vars={
            "retry_mode": ("retry_mode", "AWS_RETRY_MODE", "standard", None),
            "max_attempts": ("max_attempts", "AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, int),
        }
    )
    # botocore reads its variables from os.environ only: those `env` holds become the session's own.
    for name, (_, variables, _, _) in session.session_var_map.items():
        names = [variables] if isinstance(variables, str) else variables or ()
        value = next((env[variable] for variable in names if env.get(variable)), None)
        if value is not None:
            session.set_config_variable(name, value)
    return session
