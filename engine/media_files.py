"""Content-addressed storage of generated media under the media root (WFE_MEDIA_BASE_PATH).

Files are named by the SHA-256 of their bytes (`generated/<2 hex>/<64 hex>.<ext>`), so the same
picture generated twice is stored once, a name can never point at different bytes, and the
served copy can be cached forever. Bytes are streamed to a temporary file in the same folder
while hashing and then renamed into place, so a reader never sees a half-written file and a
crash leaves at most a `.part` file behind.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

from engine.errors import ModuleExecutionError

GENERATED_DIR = "generated"
_EXTENSION = re.compile(r"^[a-z0-9]{1,8}$")
_DEFAULT_EXTENSION = {"image": "png", "video": "mp4", "audio": "mp3"}
_MIME_EXTENSION = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp",
                   "image/gif": "gif", "image/svg+xml": "svg", "video/mp4": "mp4",
                   "video/webm": "webm", "audio/mpeg": "mp3", "audio/mp3": "mp3",
                   "audio/wav": "wav", "audio/ogg": "ogg"}


_EXTENSION_MIME = {extension: mime for mime, extension in _MIME_EXTENSION.items()
                   if mime != "audio/mp3"}
_HASHED_NAME = re.compile(r"^([0-9a-f]{64})\.([a-z0-9]{1,8})$")


@dataclass(frozen=True)
class StoredMedia:
    relative_path: str   # below the media root, with forward slashes
    extension: str
    size: int
    sha256: str


def extension_for(url: str, declared: str | None, content_type: str) -> str:
    """A safe file extension: the provider's, else the data URL's type, else the URL path's,
    else the default of the content type."""
    candidates: list[str] = []
    if declared:
        candidates.append(declared.lower().lstrip("."))
    if url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0].strip().lower()
        if mime in _MIME_EXTENSION:
            candidates.append(_MIME_EXTENSION[mime])
    elif url:
        suffix = os.path.splitext(urlsplit(url).path)[1].lower().lstrip(".")
        candidates.append(suffix)
    candidates.append(_DEFAULT_EXTENSION.get(content_type, "bin"))
    for candidate in candidates:
        if candidate == "jpeg":
            candidate = "jpg"
        if _EXTENSION.match(candidate):
            return candidate
    return "bin"


def store_media(base_path: str, chunks: Iterable[bytes], extension: str,
                max_bytes: int) -> StoredMedia:
    """Write `chunks` under `base_path` by content hash; refuse more than `max_bytes`."""
    if not _EXTENSION.match(extension):
        raise ModuleExecutionError(f"Unsafe media file extension '{extension}'")
    folder = os.path.join(base_path, GENERATED_DIR)
    os.makedirs(folder, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    handle, temp_path = tempfile.mkstemp(prefix=".media-", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ModuleExecutionError(
                        f"Generated media is larger than the limit of {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ModuleExecutionError("The provider returned an empty media file")
        hex_digest = digest.hexdigest()
        relative = f"{GENERATED_DIR}/{hex_digest[:2]}/{hex_digest}.{extension}"
        final_path = os.path.join(base_path, *relative.split("/"))
        os.makedirs(os.path.dirname(final_path), exist_ok=True)
        os.replace(temp_path, final_path)  # same bytes under the same name: replacing is harmless
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    return StoredMedia(relative_path=relative, extension=extension, size=size,
                       sha256=hex_digest)


def resolve_media_path(base_path: str, relative_path: str) -> str | None:
    """The absolute path of a stored file, or None when it would leave the media root."""
    base = os.path.realpath(base_path)
    target = os.path.realpath(os.path.join(base, relative_path))
    if not target.startswith(base + os.sep):
        return None
    return target


def media_type_for(extension: str) -> str:
    """The Content-Type a stored file is served with."""
    return _EXTENSION_MIME.get(extension) or mimetypes.types_map.get("." + extension) \
        or "application/octet-stream"


def hashed_media_path(base_path: str, file_name: str) -> str | None:
    """The stored file named `<sha256>.<ext>` (as `store_media` wrote it), or None."""
    match = _HASHED_NAME.match(file_name)
    if match is None:
        return None
    digest, extension = match.groups()
    path = resolve_media_path(base_path, f"{GENERATED_DIR}/{digest[:2]}/{digest}.{extension}")
    return path if path is not None and os.path.isfile(path) else None
