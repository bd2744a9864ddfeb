"""What an S3 failure means: the store refusing who we are or where we point (fatal), or anything else (retryable).

Messages hold the operation, the object, the error code and our own words, never the server's text or
botocore's: those may echo endpoints, paths or credentials.
"""

from __future__ import annotations

from collections.abc import Mapping

from trace_operators.contract import StoreAccessError, StoreError, TaskError

_STORE_URL = "fix the store URL (--store or TRACE_CRYO_STORE)"
_KEYS = "fix AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile's keys"

#: What the credentials in use need for each operation of the store.
_ACTIONS = {
    "put": "s3:PutObject",
    "create": "s3:PutObject",
    "get": "s3:GetObject and s3:ListBucket (without it a missing object reads as denied)",
    "list": "s3:ListBucket",
    "delete": "s3:DeleteObject",
    "abort": "s3:ListBucketMultipartUploads and s3:AbortMultipartUpload",
}

#: Codes (S3's, or botocore's exception names) that no retry can change, and what to fix; filled with
#: `bucket`, `action` and the exception's own fields (names of sources, variables and profiles, never values).
_FATAL = {
    "NoSuchBucket": "bucket {bucket!r} does not exist; create it or " + _STORE_URL,
    "InvalidBucketName": "{bucket!r} is not a valid bucket name; " + _STORE_URL,
    "AllAccessDisabled": "all access to bucket {bucket!r} is disabled; " + _STORE_URL,
    "AccountProblem": "the AWS account of these credentials is blocked from S3; see its console or use another",
    "NotSignedUp": "the AWS account of these credentials is not signed up for S3; sign it up or use another",
    "AccessDenied": "the credentials in use may not do this: grant them {action} on bucket {bucket!r} (and its "
    "KMS key, if it has one), or use others",
    "InvalidAccessKeyId": "the endpoint knows no such access key ID; " + _KEYS + " (or AWS_ENDPOINT_URL)",
    "SignatureDoesNotMatch": "the secret access key does not match the access key ID; " + _KEYS,
    "ExpiredToken": "the session token has expired; renew the credentials (AWS_SESSION_TOKEN, the profile's, "
    "`aws sso login`)",
    "InvalidToken": "the session token is not valid; fix AWS_SESSION_TOKEN or the profile's",
    "NoCredentialsError": "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
    "or run on a role",
    "PartialCredentialsError": "incomplete AWS credentials ({provider}): {cred_var} is missing; set the access key "
    "ID and the secret access key together",
    "ProfileNotFound": "AWS profile {profile!r} is in no AWS config file; fix AWS_PROFILE or AWS_CONFIG_FILE",
    "UnauthorizedSSOTokenError": "the AWS SSO session has expired: run `aws sso login`",
    "SSOTokenLoadError": "no AWS SSO session: run `aws sso login`",
}


def error_code(exc: BaseException) -> str:
    """The S3 error code (`NoSuchBucket`, …) in `exc` or what it wraps, else the error's class name."""
    return _code(_cause(exc))


def store_error(operation: str, bucket: str, key: str, exc: BaseException) -> TaskError:
    """`StoreAccessError` when retrying cannot help, else `StoreError`; naming the operation, object and code."""
    cause = _cause(exc)
    return coded_error(operation, bucket, key, _code(cause), getattr(cause, "kwargs", {}))


def coded_error(
    operation: str, bucket: str, key: str, code: str, names: Mapping[str, object] | None = None, more: str = ""
) -> TaskError:
    """The error of one failed object whose S3 error code is `code`; `more` follows it (other failed objects)."""
    where = f"S3 {operation} s3://{bucket}/{key} failed: {code}"
    advice = _FATAL.get(code)
    if advice is None:
        return StoreError(where + more)
    fields = {**(names or {}), "bucket": bucket, "action": _ACTIONS[operation]}
    return StoreAccessError(f"{where}: {advice.format_map(fields)}{more}")


def _cause(exc: BaseException) -> BaseException:
    """The S3 error, or the botocore error we know, that `exc` is or wraps; else `exc`."""
    from botocore.exceptions import ClientError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ClientError) or type(cause).__name__ in _FATAL:
            return cause
        # boto3's S3UploadFailedError wraps the ClientError only as the implicit context.
        cause = cause.__cause__ or cause.__context__
    return exc


def _code(cause: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code") or "unknown error")
    return type(cause).__name__
