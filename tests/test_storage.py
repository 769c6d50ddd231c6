"""storage: key sanitising, listing (folder, file, manifest, S3), atomic writes, fetch, S3 errors."""

from __future__ import annotations

import pytest

from rayqe import listing, storage
from rayqe.errors import RayqeError
from tests.pipeline.s3server import s3_endpoint, use_fake_credentials  # noqa: F401  (fixture)


@pytest.mark.parametrize(
    "key,safe",
    [
        ("a/b.mp4", "a/b.mp4"),
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/x.mp4", "abs/x.mp4"),
        ("C:\\videos\\a.mp4", "videos/a.mp4"),
        ("a/./b/../c.mp4", "a/b/c.mp4"),
        ("spaces and ünïcode/😀.mkv", "spaces and ünïcode/😀.mkv"),
        ("bad\x00name\n.mp4", "badname.mp4"),
    ],
)
def test_sanitize_key_never_escapes(key, safe):
    assert storage.sanitize_key(key) == safe
    assert ".." not in storage.output_uri("/dst", key).split("/")


def test_sanitize_key_refuses_empty():
    with pytest.raises(RayqeError):
        storage.sanitize_key("../..")


def _tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "a.mp4").write_bytes(b"1")
    (root / "sub" / "b c.mkv").write_bytes(b"22")
    (root / "notes.txt").write_text("x")
    (root / ".hidden.mp4").write_bytes(b"h")
    (root / "_stats").mkdir()
    (root / "_stats" / "old.mp4").write_bytes(b"s")
    (root / f"{storage.TEMP_MARKER}x.mp4").write_bytes(b"t")


def test_list_local_folder_file_and_manifest(tmp_path):
    _tree(tmp_path / "in")
    items = listing.list_inputs(str(tmp_path / "in"))
    assert [(i.key, i.size_bytes) for i in items] == [("a.mp4", 1), ("sub/b c.mkv", 2)]
    assert [i.key for i in listing.list_inputs(str(tmp_path / "in" / "sub" / "b c.mkv"))] == ["b c.mkv"]
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"# comment\n\nin/a.mp4\n{tmp_path}/in/sub/b c.mkv\n")
    items = listing.list_inputs(str(manifest))
    assert [i.key for i in items] == ["in/a.mp4", f"{str(tmp_path).lstrip('/')}/in/sub/b c.mkv"]
    with pytest.raises(RayqeError, match="not found"):
        listing.list_inputs(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RayqeError, match="no input videos"):
        listing.list_inputs(str(tmp_path / "empty"))


def test_commit_is_atomic_and_cleans_up(tmp_path):
    target = tmp_path / "out" / "v.mp4"
    tmp = storage.temp_path_for(str(target))
    tmp.write_bytes(b"data")
    assert not target.exists() and storage.list_files(str(tmp_path)) == []  # temp files are never listed
    storage.commit(tmp, str(target))
    assert target.read_bytes() == b"data" and not tmp.exists()
    storage.put_bytes(str(tmp_path / "x" / "y.bin"), b"xy")
    assert storage.read_bytes(str(tmp_path / "x" / "y.bin")) == b"xy"
    assert storage.fetch(str(target), tmp_path / "cache") == target  # local inputs are read in place


@pytest.mark.s3
def test_s3_list_fetch_put_and_errors(s3_endpoint, tmp_path):  # noqa: F811
    config = storage.StorageConfig(s3_endpoint_url=s3_endpoint)
    client = storage.s3_client(config)
    client.create_bucket(Bucket="store")
    for key, body in {
        "in/a.mp4": b"a",
        "in/d/b.mkv": b"bb",
        "in/readme.txt": b"r",
        "in2/c.mp4": b"c",
    }.items():
        client.put_object(Bucket="store", Key=key, Body=body)
    items = listing.list_inputs("s3://store/in", config)  # a prefix without '/' is a folder, not "in*"
    assert [(i.uri, i.key, i.size_bytes) for i in items] == [
        ("s3://store/in/a.mp4", "a.mp4", 1),
        ("s3://store/in/d/b.mkv", "d/b.mkv", 2),
    ]
    assert [i.key for i in listing.list_inputs("s3://store/in/d/b.mkv", config)] == ["b.mkv"]
    storage.put_bytes("s3://store/list.txt", b"s3://store/in2/c.mp4\nin/a.mp4\n", config)
    assert [i.key for i in listing.list_inputs("s3://store/list.txt", config)] == [
        "in/a.mp4",
        "store/in2/c.mp4",
    ]
    local = storage.fetch("s3://store/in/d/b.mkv", tmp_path / "cache", config)
    assert (
        local.read_bytes() == b"bb"
        and storage.fetch("s3://store/in/d/b.mkv", tmp_path / "cache", config) == local
    )
    storage.fetch("s3://store/in/a.mp4", tmp_path / "cache", config, max_cache_bytes=2)  # evicts b.mkv
    assert not local.exists() and len(list((tmp_path / "cache").iterdir())) == 1
    src = tmp_path / "f.bin"
    src.write_bytes(b"payload")
    storage.put_file(src, "s3://store/out/f.bin", config)
    assert storage.read_bytes("s3://store/out/f.bin", config) == b"payload"
    assert storage.list_files("s3://store/out", ".bin", config) == ["s3://store/out/f.bin"]
    storage.delete("s3://store/out/f.bin", config)
    assert not storage.exists("s3://store/out/f.bin", config)
    with pytest.raises(RayqeError, match="bucket does not exist"):
        listing.list_inputs("s3://no-such-bucket/x/", config)
    with pytest.raises(RayqeError, match="does not exist"):
        storage.fetch("s3://store/in/gone.mp4", tmp_path / "cache", config)
