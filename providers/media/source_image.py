"""Loading the source image of img2img / img2vid, and data-URL helpers.

The source is what the media module hands over: a data URL, an http(s) URL (a previous
generation's vendor URL) or a local file path (downloaded media, *later*). All three are read
with a size cap so a wrong reference cannot exhaust memory.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from pathlib import Path
from typing import Callable
from urllib.parse import unquote_to_bytes

from engine.provider_types import InvalidRequestError, ProviderError

MAX_SOURCE_BYTES = 50 * 1024 * 1024
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"GIF8", "image/gif"))


def to_data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def parse_data_url(url: str) -> tuple[str, bytes]:
    """(mime type, bytes) of a `data:` URL, base64 or percent-encoded."""
    header, sep, payload = url.partition(",")
    if not url.startswith("data:") or not sep:
        raise InvalidRequestError("Malformed data URL")
    meta = header[len("data:"):].split(";")
    mime = meta[0] or "text/plain"
    if "base64" in meta[1:]:
        try:
            return mime, base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("Malformed base64 in data URL") from None
    return mime, unquote_to_bytes(payload)


def sniff_mime(data: bytes) -> str | None:
    """The image type from the first bytes; None when the bytes are not a known image."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _image_mime(data: bytes) -> str:
    """URLs and paths are followed on the server, so only image bytes may go on to a vendor:
    anything else (a config file, an internal page) is refused."""
    mime = sniff_mime(data)
    if mime is None:
        raise InvalidRequestError("The source is not a PNG, JPEG, GIF or WebP image")
    return mime


def too_large(limit: int) -> ProviderError:
    return ProviderError(f"Content is larger than {limit} bytes", retryable=False,
                         error_code="content_too_large")


Downloader = Callable[[str, int], bytes]


def load_source_image(source: str, download: Downloader,
                      max_bytes: int = MAX_SOURCE_BYTES) -> tuple[bytes, str, str]:
    """(bytes, file name, mime type) of the source; `download(url, max_bytes)` fetches URLs."""
    source = (source or "").strip()
    if not source:
        raise InvalidRequestError("A source image is required")
    if source.startswith("data:"):
        mime, data = parse_data_url(source)
        if len(data) > max_bytes:
            raise too_large(max_bytes)
        name = "source" + (mimetypes.guess_extension(mime) or ".png")
        return data, name, mime
    if source.startswith(("http://", "https://")):
        data = download(source, max_bytes)
        mime = _image_mime(data)
        return data, "source" + (mimetypes.guess_extension(mime) or ".png"), mime
    path = Path(source)
    if not path.is_file():
        raise InvalidRequestError("The source image is neither a URL nor a readable file")
    if path.stat().st_size > max_bytes:
        raise too_large(max_bytes)
    data = path.read_bytes()
    return data, path.name, _image_mime(data)


_RESULT_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "mp4")


def url_extension(url: str, default: str) -> str:
    """The file extension of a vendor result URL when it is a known media type, else `default`."""
    suffix = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return suffix if suffix in _RESULT_EXTENSIONS else default
