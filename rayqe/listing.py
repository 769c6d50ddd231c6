"""What to read: SRC (a local folder, one file, an s3:// prefix or object, or a manifest) -> input items.

Split from storage.py, which keeps the object I/O (open, fetch, atomic put). Listing runs on the driver and
touches names, sizes and versions only: no input is opened here (untrusted media is parsed in workers).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import replace
from pathlib import Path, PurePosixPath

from rayqe.errors import RayqeError
from rayqe.storage import (
    MANIFEST_SUFFIXES,
    S3_SCHEME,
    TEMP_MARKER,
    VIDEO_SUFFIXES,
    InputItem,
    StorageConfig,
    _botocore_errors,
    _head_object,
    _s3_error,
    is_s3,
    join,
    read_bytes,
    s3_client,
    sanitize_key,
    split_s3,
)


def list_inputs(src: str, config: StorageConfig | None = None) -> list[InputItem]:
    """Inputs named by SRC: a local folder (recursive), one file, an s3:// prefix or object, or a manifest.

    A manifest is a file (local or S3) with suffix .txt/.lst/.list/.manifest holding one URI or path per
    line (`#` comments, blank lines ignored; relative paths are relative to the manifest). Folders and
    prefixes yield files with video suffixes only, skipping hidden names and rayqe's own `_stats`/temp
    files. Keys: path below the folder/prefix; basename for a single file; for manifest entries the
    bucket+key or the path without its root. Sorted by key. Inputs whose keys collide after sanitising get
    an `error` each (neither is written); a folder with no videos is a RayqeError.
    """
    if is_s3(src):
        items = _list_s3(src, config)
    else:
        items = _list_local(src, config)
    if not items:
        raise RayqeError(f"no input videos found in {src}")
    by_key: dict[str, list[InputItem]] = {}
    for item in {item.uri: item for item in items}.values():  # one file listed twice is one input
        by_key.setdefault(item.key, []).append(item)
    out = []
    for key, group in by_key.items():  # e.g. 'a/../b.mp4' and 'a/b.mp4': neither may overwrite the other
        for item in group:
            if len(group) > 1 and item.error is None:
                others = ", ".join(o.uri for o in group if o is not item)
                item = replace(item, error=f"{item.uri} and {others} map to the same output name {key!r}")
            out.append(item)
    return sorted(out, key=lambda it: (it.key, it.uri))


def _is_candidate(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    if any(p.startswith((".", "_stats", "_rayqe")) for p in parts) or TEMP_MARKER in rel:
        return False
    return PurePosixPath(rel).suffix.lower() in VIDEO_SUFFIXES


def _list_local(src: str, config: StorageConfig | None) -> list[InputItem]:
    path = Path(src)
    if not path.exists():
        raise RayqeError(f"input not found: {src}")
    if path.is_file():
        if path.suffix.lower() in MANIFEST_SUFFIXES:
            return _from_manifest(path.read_text(encoding="utf-8"), str(path.parent.resolve()), config)
        return [_local_item(path, sanitize_key(path.name))]
    items = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_stats", "_rayqe")))
        for name in files:
            full = Path(root) / name
            rel = full.relative_to(path).as_posix()
            if _is_candidate(rel):
                items.append(_local_item(full, sanitize_key(rel)))
    return items


def _local_item(path: Path, key: str) -> InputItem:
    st = path.stat()
    return InputItem(str(path), key, st.st_size, version=str(st.st_mtime_ns))


def _list_s3(src: str, config: StorageConfig | None) -> list[InputItem]:
    bucket, key = split_s3(src)
    client = s3_client(config)
    try:
        if key and not key.endswith("/"):
            head = _head_object(client, bucket, key)
            if head is not None:  # an object: a manifest or one video
                if PurePosixPath(key).suffix.lower() in MANIFEST_SUFFIXES:
                    text = read_bytes(src, config).decode("utf-8")
                    return _from_manifest(text, posixpath.dirname(src), config)
                size, etag = head
                return [InputItem(src, sanitize_key(posixpath.basename(key)), size, version=etag)]
            key += "/"
        items = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(key) :]
                if _is_candidate(rel):
                    uri = f"{S3_SCHEME}{bucket}/{obj['Key']}"
                    items.append(_s3_item(uri, rel, obj["Size"], obj.get("ETag", "")))
        return items
    except _botocore_errors() as err:
        raise _s3_error(err, src) from None


def _s3_item(uri: str, rel: str, size: int, etag: str) -> InputItem:
    """A listed S3 object; a key with nothing usable left after sanitising is that input's error."""
    try:
        return InputItem(uri, sanitize_key(rel), size, version=etag.strip('"'))
    except RayqeError as err:
        return InputItem(uri, _unnamed_key(uri), size, error=str(err))


def _unnamed_key(uri: str) -> str:
    """A placeholder key for an input whose name leaves nothing after sanitising (it is never written)."""
    return f"_unnamed/{hashlib.sha256(uri.encode()).hexdigest()[:16]}"


def _from_manifest(text: str, base: str, config: StorageConfig | None) -> list[InputItem]:
    """Manifest lines -> items. An entry that is missing or unusable becomes an item with `error` (that
    video's error row), so one stale line does not stop the batch."""
    items = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if is_s3(entry):
            bucket, key = split_s3(entry)
            uri, key = entry, f"{bucket}/{key}"
        elif is_s3(base):
            uri, key = join(base, entry), entry
        else:
            full = Path(entry) if Path(entry).is_absolute() else Path(base) / entry
            uri = str(full)
            key = entry if not Path(entry).is_absolute() else str(full.resolve())
        try:
            safe = sanitize_key(key)
        except RayqeError as err:
            items.append(InputItem(uri, _unnamed_key(uri), 0, error=f"manifest entry {entry!r}: {err}"))
            continue
        try:
            if is_s3(uri):
                head = _head_object(s3_client(config), *split_s3(uri))
                if head is None:
                    raise RayqeError(f"S3 {uri}: object does not exist")
                items.append(InputItem(uri, safe, head[0], version=head[1]))
            elif Path(uri).is_file():
                items.append(_local_item(Path(uri), safe))
            else:
                raise RayqeError(f"manifest entry not found: {entry}")
        except _botocore_errors() as err:
            items.append(InputItem(uri, safe, 0, error=str(_s3_error(err, uri))))
        except RayqeError as err:
            items.append(InputItem(uri, safe, 0, error=str(err)))
    return items
