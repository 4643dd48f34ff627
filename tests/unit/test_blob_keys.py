"""Blob cache keys (db/blob_keys.py): a response blob's key from the request blob's prefix state
equals its key hashed in full, whatever the request text's padding."""

from __future__ import annotations

import base64

import pytest

from db.blob_keys import BlobKey, blob_key
from db.blob_members import append_member, gzip_member


@pytest.mark.parametrize("size", [30, 31, 32, 3000, 3001, 3002])  # every base64 padding
def test_a_response_that_appends_a_member_gets_its_full_key(size: int) -> None:
    request = base64.b64encode(gzip_member(bytes(range(256)) * (size // 256) + b"x" * (size % 256),
                                           4)).decode()
    keys = BlobKey(request)
    assert keys.key == blob_key(request) == blob_key(request.encode())
    response = request
    for n in range(3):  # members keep being appended to the blob the editor sends back
        response = append_member(response, gzip_member(b'{"n": %d}' % n, 4))
        assert keys.of(response) == blob_key(response)
    assert keys.of(request) == keys.key


def test_a_text_that_does_not_extend_the_request_is_hashed_in_full() -> None:
    request = base64.b64encode(gzip_member(b"a" * 500, 4)).decode()
    keys = BlobKey(request)
    other = base64.b64encode(gzip_member(b"b" * 500, 4)).decode()  # same length, other bytes
    assert keys.of(other) == blob_key(other) != keys.key
    changed = "A" + request[1:]  # differs in the shared prefix only
    assert keys.of(changed) == blob_key(changed) != keys.key
    assert keys.of(request[:-4]) == blob_key(request[:-4])  # shorter than the prefix


def test_short_texts() -> None:
    for text in ["", "QQ==", "QUJD"]:
        keys = BlobKey(text)
        assert keys.key == blob_key(text)
        assert keys.of(text + "QUJD") == blob_key(text + "QUJD")
