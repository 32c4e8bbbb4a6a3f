"""CSV-import bodies are standard base64 whichever encoder is installed (pybase64 or stdlib)."""

from __future__ import annotations

import base64
import os

import pytest

from cleanlist_pipeline import b64


@pytest.mark.parametrize("size", [0, 1, 2, 3, 57, 76, 1000, 116_810, 150_000])
def test_encoding_equals_the_standard_library(size: int) -> None:
    data = os.urandom(size)
    assert b64.b64encode_ascii(data) == base64.b64encode(data).decode("ascii")
    assert b64.b64encode_ascii(memoryview(data)) == b64.b64encode_ascii(bytearray(data))
    assert "\n" not in b64.b64encode_ascii(data)  # no MIME line breaks in a JSON field


def test_the_fast_encoder_is_the_one_installed() -> None:
    import pybase64  # a declared dependency: the fallback is only for platforms without wheels

    assert b64.b64encode is pybase64.b64encode
