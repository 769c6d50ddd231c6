"""URIs -> bytes: local paths and `s3://bucket/key`, listed, fetched and written atomically.

Why this shape:
- PyAV needs a seekable local file (an MP4's index may sit at its end), so S3 inputs are *fetched* to a
  local cache inside the worker that decodes them (never in the driver), once per worker process and
  video, not once per chunk. Local inputs are read in place.
- Outputs are written to a local temp file first and then *committed*: `os.replace` locally, one
  `upload_file` to S3 (the object appears only when the upload completes). A half-written output
  never looks done, which is what resuming relies on.
- Output keys mirror input keys under DST, after `sanitize_key` removed every way out of DST
  (`..`, absolute paths, drive letters, control characters).
- S3 uses boto3's standard credential chain (env, profile, instance role) and endpoint resolution
  (`AWS_ENDPOINT_URL`, or `StorageConfig.s3_endpoint_url` / `--s3-endpoint-url`); credentials are
  never read, logged or stored here. Throttling and 5xx are retried with backoff by botocore's
  "standard" retry mode.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rayqe.errors import RayqeError

S3_SCHEME = "s3://"
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mkv .mov .avi .webm .ts .mts .m2ts .mpg .mpeg .flv .wmv .3gp .y4m .ivf .hevc .h265 .h264 .264"
    " .265 .nut".split()
)
MANIFEST_SUFFIXES = frozenset({".txt", ".lst", ".list", ".manifest"})
TEMP_MARKER = ".rayqe-tmp-"  # in the names of uncommitted files; never listed as inputs or outputs
S3_MAX_ATTEMPTS = 8  # botocore standard mode: exponential backoff with jitter on throttling / 5xx / resets
# Fetched S3 inputs kept per node: enough for the videos a node's actors work on at once, bounded so an
# archive run never fills the disk. Least recently used files go first (a reader holding one open keeps it).
CACHE_MAX_BYTES = 20 * 1024**3


@dataclass(frozen=True)
class StorageConfig:
    """Where S3 lives (None: boto3's own resolution: AWS_ENDPOINT_URL, profile, or AWS) and how often a
    throttled / 5xx / reset request is tried in all. Credentials are never part of it (module doc)."""

    s3_endpoint_url: str | None = None
    s3_max_attempts: int = S3_MAX_ATTEMPTS


@dataclass(frozen=True)
class InputItem:
    """One listed input: its URI, the key its output mirrors (already sanitised) and its size.

    `version` identifies this content of the input (local mtime in ns, S3 ETag) so a replaced input is
    never mistaken for the one an existing output was made from. `error`: the entry could not be listed
    (e.g. a manifest line naming a missing file); the run reports it as that video's error row.
    """

    uri: str
    key: str
    size_bytes: int
    version: str = ""
    error: str | None = None


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_SCHEME)


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key")."""
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise RayqeError(f"bad S3 URI (no bucket): {uri}")
    return bucket, key


def join(base: str, *parts: str) -> str:
    """Join URI parts with '/', local or S3 (parts are trusted, e.g. already sanitised keys)."""
    out = base
    for part in parts:
        out = out.rstrip("/") + "/" + part.lstrip("/") if out else part
    return out


def sanitize_key(key: str) -> str:
    """A relative POSIX key that cannot escape its parent: drops '', '.', '..', drive letters, control chars.

    `../../etc/passwd` -> `etc/passwd`; `/abs/x.mp4` -> `abs/x.mp4`; `C:\\v\\a.mp4` -> `v/a.mp4`.
    Spaces and unicode are kept. Raises RayqeError if nothing is left.
    """
    cleaned = "".join(ch for ch in key if ch.isprintable()).replace("\\", "/")
    parts = [p for p in cleaned.split("/") if p not in ("", ".", "..")]
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":
        parts = parts[1:]
    if not parts:
        raise RayqeError(f"input name gives no usable output name: {key!r}")
    return "/".join(parts)


def output_uri(dst: str, key: str, suffix: str | None = None) -> str:
    """The output URI mirroring input `key` under `dst`, optionally with a new file suffix ('.mkv')."""
    safe = sanitize_key(key)
    if suffix is not None:
        safe = str(PurePosixPath(safe).with_suffix(suffix))
    return join(dst, safe)


# --------------------------------------------------------------------------------------------- S3 client
@functools.lru_cache(maxsize=4)
def _client(endpoint_url: str | None, max_attempts: int):
    import boto3
    from botocore.config import Config

    retry = Config(retries={"total_max_attempts": max_attempts, "mode": "standard"})  # first try included
    return boto3.client("s3", endpoint_url=endpoint_url, config=retry)


def s3_client(config: StorageConfig | None = None):
    """A boto3 S3 client for `config` (cached per process; boto3 clients are thread-safe)."""
    config = config or StorageConfig()
    return _client(config.s3_endpoint_url, config.s3_max_attempts)


S3_REASONS = {
    "NoSuchBucket": "bucket does not exist",
    "NoSuchKey": "object does not exist (deleted after listing?)",
    "404": "object does not exist (deleted after listing?)",
    "AccessDenied": "access denied",
    "403": "access denied",
    "InvalidAccessKeyId": "credentials rejected",
    "SignatureDoesNotMatch": "credentials rejected",
    "ExpiredToken": "credentials expired",
    "NoCredentialsError": "no credentials found (environment, profile or instance role)",
}
# Still failing after botocore's retries with backoff: say so, so nobody retries by hand at once.
S3_TRANSIENT_CODES = frozenset(
    "SlowDown Throttling ThrottlingException RequestLimitExceeded 500 502 503 504 InternalError "
    "ServiceUnavailable RequestTimeout EndpointConnectionError ConnectionClosedError ReadTimeoutError "
    "ConnectTimeoutError ConnectionError".split()
)


def _s3_error(err: Exception, uri: str) -> RayqeError:
    """botocore errors -> one clear line (no request ids, headers or credentials, which botocore's own
    messages never carry either; only the error code is used)."""
    code = str(getattr(err, "response", {}).get("Error", {}).get("Code", type(err).__name__))
    if code == "S3UploadFailedError":  # boto3's transfer manager wraps the ClientError in its text only
        found = re.search(r"An error occurred \((\w+)\)", str(err))
        code = found.group(1) if found else "upload failed"
    if code in S3_REASONS:
        return RayqeError(f"S3 {uri}: {S3_REASONS[code]}")
    if code in S3_TRANSIENT_CODES:
        return RayqeError(f"S3 {uri}: {code}, still failing after retries with backoff")
    return RayqeError(f"S3 {uri}: {code}")


def _botocore_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def _head_object(client, bucket: str, key: str) -> tuple[int, str] | None:
    """(size, ETag) of an object, None if absent."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return int(head["ContentLength"]), str(head.get("ETag", "")).strip('"')


def _head(client, bucket: str, key: str) -> int | None:
    """Size of an object, None if absent."""
    head = _head_object(client, bucket, key)
    return None if head is None else head[0]


def list_files(prefix: str, suffix: str = "", config: StorageConfig | None = None) -> list[str]:
    """All committed files below a folder/prefix whose names end with `suffix`, sorted."""
    if is_s3(prefix):
        bucket, key = split_s3(prefix)
        key = key.rstrip("/") + "/" if key else ""
        out = []
        try:
            for page in (
                s3_client(config).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            ):
                out += [f"{S3_SCHEME}{bucket}/{o['Key']}" for o in page.get("Contents", [])]
        except _botocore_errors() as err:
            raise _s3_error(err, prefix) from None
    else:
        root = Path(prefix)
        out = [str(p) for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
    return sorted(u for u in out if u.endswith(suffix) and TEMP_MARKER not in u)


# --------------------------------------------------------------------------------------------- reading
def size_bytes(uri: str, config: StorageConfig | None = None) -> int:
    """Size of a file/object; RayqeError when missing."""
    if not is_s3(uri):
        try:
            return os.stat(uri).st_size
        except FileNotFoundError:
            raise RayqeError(f"not found: {uri}") from None
    bucket, key = split_s3(uri)
    try:
        size = _head(s3_client(config), bucket, key)
    except _botocore_errors() as err:
        raise _s3_error(err, uri) from None
    if size is None:
        raise RayqeError(f"S3 {uri}: object does not exist")
    return size


def exists(uri: str, config: StorageConfig | None = None) -> bool:
    try:
        size_bytes(uri, config)
    except RayqeError:
        return False
    return True


def read_bytes(uri: str, config: StorageConfig | None = None) -> bytes:
    if not is_s3(uri):
        return Path(uri).read_bytes()
    bucket, key = split_s3(uri)
    try:
        return s3_client(config).get_object(Bucket=bucket, Key=key)["Body"].read()
    except _botocore_errors() as err:
        raise _s3_error(err, uri) from None


def fetch(
    uri: str,
    cache_dir: str | Path,
    config: StorageConfig | None = None,
    max_cache_bytes: int = CACHE_MAX_BYTES,
) -> Path:
    """A local path holding `uri`'s bytes: the path itself when local, else a cached download.

    Downloads land under a temp name and are renamed when complete, so a killed download is never
    reused. The cache name hashes the URI and object size, so a replaced object is fetched again.
    After a download the cache is trimmed to `max_cache_bytes`, least recently used first.
    """
    if not is_s3(uri):
        if not Path(uri).is_file():
            raise RayqeError(f"not found: {uri}")
        return Path(uri)
    size = size_bytes(uri, config)
    digest = hashlib.sha256(f"{uri}\0{size}".encode()).hexdigest()[:24]
    target = Path(cache_dir) / f"{digest}{PurePosixPath(uri).suffix[:8]}"
    if target.is_file() and target.stat().st_size == size:
        os.utime(target)  # recently used: evicted last
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{TEMP_MARKER}{uuid.uuid4().hex}{target.name}")
    bucket, key = split_s3(uri)
    try:
        s3_client(config).download_file(bucket, key, str(tmp))
        os.replace(tmp, target)
    except _botocore_errors() as err:
        raise _s3_error(err, uri) from None
    finally:
        tmp.unlink(missing_ok=True)
    _trim_cache(Path(cache_dir), max_cache_bytes, keep=target)
    return target


def _trim_cache(cache_dir: Path, max_bytes: int, keep: Path) -> None:
    files = [p for p in cache_dir.iterdir() if p.is_file() and TEMP_MARKER not in p.name and p != keep]
    stats = {p: p.stat() for p in files}
    total = sum(s.st_size for s in stats.values()) + keep.stat().st_size
    for path in sorted(files, key=lambda p: stats[p].st_mtime):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= stats[path].st_size


# --------------------------------------------------------------------------------------------- writing
def temp_path_for(uri: str, work_dir: str | Path | None = None) -> Path:
    """A local temp file to write `uri`'s content into before `commit`: beside the target when local
    (so the rename is atomic on one filesystem), else in `work_dir`/the system temp dir."""
    name = f"{TEMP_MARKER}{uuid.uuid4().hex}{PurePosixPath(uri).suffix}"
    if not is_s3(uri):
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        return Path(uri).parent / name
    folder = Path(work_dir) if work_dir else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def commit(local_tmp: str | Path, uri: str, config: StorageConfig | None = None) -> None:
    """Make a finished local temp file visible at `uri` in one step; the temp file is gone afterwards."""
    local_tmp = Path(local_tmp)
    try:
        if not is_s3(uri):
            with open(local_tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(local_tmp, uri)
            return
        bucket, key = split_s3(uri)
        from boto3.exceptions import S3UploadFailedError

        try:  # a failed multipart upload is aborted by boto3: nothing becomes visible at `uri`
            s3_client(config).upload_file(str(local_tmp), bucket, key)
        except (*_botocore_errors(), S3UploadFailedError) as err:
            raise _s3_error(err, uri) from None
    finally:
        local_tmp.unlink(missing_ok=True)


def put_file(local_path: str | Path, uri: str, config: StorageConfig | None = None) -> None:
    """Copy a local file to `uri` atomically (the source stays)."""
    tmp = temp_path_for(uri)
    shutil.copyfile(local_path, tmp)
    commit(tmp, uri, config)


def put_bytes(uri: str, data: bytes, config: StorageConfig | None = None) -> None:
    """Write `data` to `uri` atomically."""
    tmp = temp_path_for(uri)
    tmp.write_bytes(data)
    commit(tmp, uri, config)


def delete(uri: str, config: StorageConfig | None = None) -> None:
    """Remove a file/object if present (no error when absent)."""
    if not is_s3(uri):
        Path(uri).unlink(missing_ok=True)
        return
    bucket, key = split_s3(uri)
    try:
        s3_client(config).delete_object(Bucket=bucket, Key=key)
    except _botocore_errors() as err:
        raise _s3_error(err, uri) from None


def delete_tree(uri: str, config: StorageConfig | None = None) -> None:
    """Remove a scratch folder/prefix and everything below it, uncommitted temp files included."""
    if not is_s3(uri):
        shutil.rmtree(uri, ignore_errors=True)
        return
    for item in list_files(uri, config=config):
        delete(item, config)


def check_writable(uri: str, config: StorageConfig | None = None) -> None:
    """Fail fast, before any work, when outputs could not be written below `uri` (missing bucket, access
    denied, read-only folder): writes and deletes one small probe object under `uri`."""
    probe = join(uri, f"_rayqe_write_probe-{uuid.uuid4().hex}")
    try:
        put_bytes(probe, b"rayqe", config)
        delete(probe, config)
    except OSError as err:
        raise RayqeError(f"cannot write to {uri}: {err.strerror or err}") from None
    except RayqeError as err:
        raise RayqeError(f"cannot write to {uri}: {str(err).split(': ', 1)[-1]}") from None


def remove_dir_if_empty(uri: str) -> None:
    """Tidy a local scratch folder once its files are gone (S3 has no folders: nothing to do)."""
    if not is_s3(uri) and Path(uri).is_dir() and not any(Path(uri).iterdir()):
        Path(uri).rmdir()
