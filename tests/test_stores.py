"""The object stores: a local directory and S3 (moto's server over HTTP), held to the same behaviour."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from trace_operators.contract import ObjectStore, StorageRef, StoreError
from trace_operators.stores import ACCEPTED_FORMS, LocalStore, S3Store, open_store

from tests.s3server import S3Bucket

#: Bytes with every value in them, so nothing gets away with a text-mode round trip.
PAYLOAD = bytes(range(256)) * 40 + b"\r\n\x00end"


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The same tests against both stores; the S3 one has a prefix of its own."""
    if request.param == "file":
        return open_store(str(tmp_path / "store"))
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"{bucket.url}/some/prefix")


def test_objects_round_trip_byte_for_byte(store: ObjectStore, tmp_path: Path) -> None:
    source = _file(tmp_path, "chunk.parquet", PAYLOAD)
    store.put_file(store.key("cryo/1/blocks/a.parquet"), source)
    store.put_bytes(store.key("cryo/1/blocks/_SUCCESS"), b'{"ok": true}')

    assert store.get_bytes(store.key("cryo/1/blocks/a.parquet")) == PAYLOAD
    assert store.get_bytes(store.key("cryo/1/blocks/_SUCCESS")) == b'{"ok": true}'
    assert store.list_sizes(store.key("cryo/1/blocks/")) == {
        store.key("cryo/1/blocks/a.parquet"): len(PAYLOAD),
        store.key("cryo/1/blocks/_SUCCESS"): 12,
    }
    assert source.read_bytes() == PAYLOAD, "the source is the caller's to delete"


def test_missing_objects_are_none_and_overwrites_replace(store: ObjectStore) -> None:
    assert store.get_bytes(store.key("nothing/here")) is None
    assert store.list_sizes(store.key("nothing/")) == {}

    store.put_bytes(store.key("a/b"), b"first, longer")
    store.put_bytes(store.key("a/b"), b"second")
    assert store.get_bytes(store.key("a/b")) == b"second"
    assert store.list_sizes(store.key("a/")) == {store.key("a/b"): 6}


def test_prefixes_list_like_s3(store: ObjectStore) -> None:
    for relative in ("cryo/1/x", "cryo/1/deep/y", "cryo/10/z", "cryo2/w"):
        store.put_bytes(store.key(relative), relative.encode())

    assert store.list_sizes(store.key("cryo/1/")) == {store.key("cryo/1/x"): 8, store.key("cryo/1/deep/y"): 13}
    assert set(store.list_sizes(store.key("cryo/1"))) == {
        store.key(k) for k in ("cryo/1/x", "cryo/1/deep/y", "cryo/10/z")
    }
    assert set(store.list_sizes(store.key("cryo"))) == {
        store.key(k) for k in ("cryo/1/x", "cryo/1/deep/y", "cryo/10/z", "cryo2/w")
    }
    assert set(store.list_sizes(store.key(""))) == set(store.list_sizes(store.key("cryo")))


def test_a_missing_source_file_is_a_store_error(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="put .*a.parquet.* failed: (No such file or directory|FileNotFoundError)$"):
        store.put_file(store.key("p/a.parquet"), tmp_path / "missing")
    assert store.list_sizes(store.key("")) == {}


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../b", "a/./b", "a//b", "", "a/", "..", "a\\b", "a\x00b"])
def test_keys_that_could_escape_are_refused(store: ObjectStore, key: str) -> None:
    message = f"invalid object key {key!r}: keys are '/'-separated names"
    for call in (lambda: store.put_bytes(key, b"x"), lambda: store.get_bytes(key)):
        with pytest.raises(ValueError, match=re.escape(message)):
            call()


@pytest.mark.parametrize("prefix", ["../", "/abs/", "a//", "a/../"])
def test_prefixes_that_could_escape_are_refused(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"invalid object key {prefix!r}")):
        store.list_sizes(prefix)
    with pytest.raises(ValueError, match=re.escape(f"invalid object key {prefix!r}")):
        store.key(prefix)


# -- the local store ----------------------------------------------------------------------------


def _all_names(root: Path) -> set[str]:
    return {str(Path(d, n).relative_to(root)) for d, dirs, files in os.walk(root) for n in dirs + files}


def test_delete_removes_what_is_there_and_ignores_what_is_not(store: ObjectStore) -> None:
    for relative in ("p/a.parquet", "p/b.parquet", "p/_SUCCESS", "q/a.parquet"):
        store.put_bytes(store.key(relative), b"x")
    store.delete([store.key("p/a.parquet"), store.key("p/_SUCCESS"), store.key("p/never-there")])
    store.delete([])
    assert set(store.list_sizes(store.key(""))) == {store.key("p/b.parquet"), store.key("q/a.parquet")}


def test_abort_incomplete_leaves_whole_objects_alone(store: ObjectStore) -> None:
    store.put_bytes(store.key("p/a.parquet"), b"whole")
    store.abort_incomplete(store.key("p/"))
    store.abort_incomplete(store.key("nothing/"))
    assert store.get_bytes(store.key("p/a.parquet")) == b"whole"


def test_local_abort_incomplete_removes_only_dead_writers_temporary_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("p/a.parquet", b"whole")
    dead = _dead_pid()
    paths = {
        name: tmp_path / "store" / "p" / name
        for name in (f".b.parquet.tmp-{dead}-0a1b", f".c.parquet.tmp-{os.getpid()}-0a1b", ".d.tmp-old-format")
    }
    for path in paths.values():
        path.write_bytes(b"half")
    (tmp_path / "store" / "q").mkdir()
    (tmp_path / "store" / "q" / f".e.tmp-{dead}-0a1b").write_bytes(b"other prefix")

    store.abort_incomplete("p/")

    assert sorted(p.name for p in (tmp_path / "store" / "p").iterdir()) == [
        f".c.parquet.tmp-{os.getpid()}-0a1b",
        "a.parquet",
    ], "a live writer's file is its own"
    assert (tmp_path / "store" / "q" / f".e.tmp-{dead}-0a1b").exists()


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_local_writes_leave_no_temporary_files_and_temporary_files_are_never_listed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_file("p/a.parquet", _file(tmp_path, "a", PAYLOAD))
    store.put_bytes("p/_SUCCESS", b"{}")
    assert _all_names(store.root) == {"p", "p/a.parquet", "p/_SUCCESS"}

    # What a writer killed between write and rename leaves behind.
    (store.root / "p" / ".b.parquet.tmp-0123456789ab").write_bytes(b"half")
    assert store.list_sizes("p/") == {"p/a.parquet": len(PAYLOAD), "p/_SUCCESS": 2}
    assert store.get_bytes("p/b.parquet") is None


def test_local_failed_put_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with pytest.raises(StoreError, match=re.escape("local store put 'p/a.parquet' failed: No such file or directory")):
        store.put_file("p/a.parquet", tmp_path / "missing")
    assert _all_names(store.root) == {"p"}


def test_local_put_file_survives_deleting_the_source(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    source = _file(tmp_path, "a.parquet", PAYLOAD)
    store.put_file("p/a.parquet", source)
    source.unlink()
    assert store.get_bytes("p/a.parquet") == PAYLOAD


def test_local_refuses_keys_named_like_its_temporary_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with pytest.raises(ValueError, match=re.escape("invalid object key 'p/.a.tmp-1': names like")):
        store.put_bytes("p/.a.tmp-1", b"x")


def test_local_listing_does_not_follow_symlinks_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.parquet").write_bytes(b"not yours")
    store = LocalStore(tmp_path / "store")
    store.put_bytes("p/a", b"a")
    (store.root / "p" / "link").symlink_to(outside)
    (store.root / "p" / "file-link").symlink_to(outside / "secret.parquet")
    assert store.list_sizes("") == {"p/a": 1}


def test_local_ref_names_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    assert store.ref("cryo/1/") == StorageRef("file", str(tmp_path / "store"), "cryo/1/", "*.parquet")


# -- open_store ---------------------------------------------------------------------------------


def test_open_store_local_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("cryo-data")
    assert (relative.scheme, relative.bucket) == ("file", str(tmp_path / "cryo-data"))
    assert open_store(f"file://{tmp_path}/a%20b").bucket == str(tmp_path / "a b")
    assert open_store(f"file://localhost{tmp_path}").bucket == str(tmp_path)
    assert open_store(f"file:{tmp_path}").bucket == str(tmp_path)


def test_open_store_s3_forms() -> None:
    bare = open_store("s3://my-bucket")
    assert isinstance(bare, S3Store)
    assert (bare.scheme, bare.bucket, bare.key("x/y")) == ("s3", "my-bucket", "x/y")
    prefixed = open_store("s3://my.bucket-1/a/b/")
    assert (prefixed.bucket, prefixed.key("x"), prefixed.key("")) == ("my.bucket-1", "a/b/x", "a/b/")
    assert S3Store("my-bucket", "a/b").key("x") == S3Store("my-bucket", "a/b/").key("x") == "a/b/x"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", f"the store is empty: give {ACCEPTED_FORMS}"),
        ("   ", f"the store is empty: give {ACCEPTED_FORMS}"),
        ("http://example.com/x", f"store scheme 'http' is not supported: give {ACCEPTED_FORMS}"),
        ("gs://bucket", f"store scheme 'gs' is not supported: give {ACCEPTED_FORMS}"),
        ("s3://", "an S3 store needs a bucket name of 3 to 63 lowercase letters"),
        ("s3:///prefix", "an S3 store needs a bucket name of 3 to 63 lowercase letters"),
        ("s3://ab", "an S3 store needs a bucket name of 3 to 63 lowercase letters"),
        ("s3://My-Bucket", "an S3 store needs a bucket name of 3 to 63 lowercase letters"),
        ("s3://bucket-", "an S3 store needs a bucket name of 3 to 63 lowercase letters"),
        ("s3://bucket:9000/x", "an S3 store needs a bucket name of 3 to 63 lowercase letters"),
        ("s3:bucket", f"an S3 store is written s3://bucket[/prefix]; give {ACCEPTED_FORMS}"),
        ("s3://bucket/x?versionId=1", f"an S3 store is written s3://bucket[/prefix]; give {ACCEPTED_FORMS}"),
        ("s3://bucket/a/../b", "invalid object key 'a/../b'"),
        ("file://otherhost/x", "a file store URL names a local path, as file:///absolute/path"),
        ("file:relative/x", "a file store URL needs an absolute path, as file:///absolute/path"),
    ],
)
def test_open_store_refuses_other_forms(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        open_store(url)


def test_open_store_never_echoes_credentials_in_an_s3_url() -> None:
    with pytest.raises(ValueError) as caught:
        open_store("s3://AKIAEXAMPLE:hunter2hunter2@bucket/x")
    assert str(caught.value) == (
        "credentials do not belong in the store URL: S3 credentials come from the standard AWS environment"
    )
