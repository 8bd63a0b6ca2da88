"""Request bodies decoded strictly and fast (orjson, with Python's json as the decoder of record), and encoded."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from proxy.errors import BadRequest
from proxy.wire import json_codec
from proxy.wire.json_codec import MAX_DEPTH, decode_json, dumps

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import long_body  # noqa: E402  the OpenCode-sized conversation of bench/proxy_compare.py


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param(b'{"cost_usd": Infinity}', "Infinity is not a JSON number", id="infinity"),
        pytest.param(b'{"a": -Infinity}', "-Infinity is not a JSON number", id="minus-infinity"),
        pytest.param(b'{"a": NaN}', "NaN is not a JSON number", id="nan"),
        pytest.param(b'{"daily_limit_usd": 1e999}', "1e999 is too large", id="overflow"),
        pytest.param(b'{"a": ' + b"7" * 5000 + b"}", "more than 64 digits", id="5000-digits"),
        pytest.param(b'{"a": -' + b"7" * 65 + b"}", "more than 64 digits", id="65-digits"),
        pytest.param(b"[" * 1000 + b"]" * 1000, f"more than {MAX_DEPTH} levels deep", id="1000-deep"),
        pytest.param(b'{"a":' * 65 + b"1" + b"}" * 65, f"more than {MAX_DEPTH} levels deep", id="65-deep"),
        pytest.param(b"[" * 100_000, "brackets do not balance", id="unclosed"),
        pytest.param(b'{"model": "\\ud800"}', "lone UTF-16 surrogate", id="lone-high-surrogate"),
        pytest.param(b'{"a": "x\\udc00"}', "lone UTF-16 surrogate", id="lone-low-surrogate"),
        pytest.param(b'{"\\ud800": 1}', "lone UTF-16 surrogate", id="surrogate-key"),
        pytest.param('"\ud800"'.encode("utf-8", "surrogatepass"), "not UTF-8", id="encoded-surrogate"),
        pytest.param(b'{"a": "\xff"}', "not UTF-8 (byte 7", id="latin-1"),
        pytest.param(b"", "Expecting value", id="empty"),
    ],
)
def test_strict_decoder_refuses_what_cannot_be_stored_or_sent_back(raw: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest) as info:
        decode_json(raw)
    assert info.value.code == "invalid_json"
    assert info.value.message.startswith("The request body is not valid JSON: ")
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        pytest.param(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, None, id="64-deep"),
        pytest.param(b'{"a": "[[[[{{{{\\"[["}', {"a": '[[[[{{{{"[['}, id="brackets-in-strings"),
        pytest.param(b'"\\ud83d\\ude00 \\\\ud800"', "\U0001f600 \\ud800", id="surrogate-pair-and-escaped-backslash"),
        pytest.param(b'{"a": 1e308, "b": -0.0, "c": ' + b"9" * 64 + b"}", {"a": 1e308, "b": -0.0, "c": 10**64 - 1},
                     id="big-but-finite"),
    ],
)
def test_strict_decoder_accepts_valid_json(raw: bytes, value: object) -> None:
    decoded = decode_json(raw)
    if value is not None:
        assert decoded == value


def test_strict_decoder_stays_linear_on_an_unterminated_string_of_escaped_quotes() -> None:
    # Retrying the string pattern from every quote took 38 s for 40,000 of them.
    started = time.monotonic()
    with pytest.raises(BadRequest, match="Unterminated string"):
        decode_json(b'["' + b'\\"' * 500_000)
    assert time.monotonic() - started < 5


def strict_only(raw: bytes) -> object:
    """What Python's json alone, with every limit, makes of `raw`: a value, or the BadRequest's message."""
    try:
        return json_codec._decode_strictly(raw)
    except BadRequest as exc:
        return exc.message


@pytest.mark.parametrize("raw", [
    pytest.param(b'{"seed": 9223372036854775808}', id="just-past-int64"),
    pytest.param(b'{"seed": 18446744073709551616}', id="just-past-uint64"),
    pytest.param(b'{"seed": -9223372036854775809}', id="just-below-int64"),
    pytest.param(b'[' + b"9" * 64 + b']', id="64-digits"),
    pytest.param(b'[1e300, 1.5, -0.0, 0.1]', id="floats"),
    pytest.param(b'{"a": 1, "a": 2}', id="duplicate-key"),
    pytest.param(b'\xef\xbb\xbf{"a": 1}', id="byte-order-mark"),
    pytest.param(b'[' * 1025 + b']' * 1025, id="past-orjsons-own-depth"),
    pytest.param(b'[' * 65 + b']' * 65, id="65-deep-arrays"),
    pytest.param(b'{"a": "\\u0000\\ud83d\\ude00"}', id="escapes"),
    pytest.param(b' 7 ', id="bare-number"),
    pytest.param(b'{"a": 1} x', id="trailing-garbage"),
])
def test_the_fast_path_and_the_strict_path_agree(raw: bytes) -> None:
    # orjson reads an integer past 64 bits as a float; those, and whatever orjson refuses, go the strict way.
    try:
        fast: object = decode_json(raw)
    except BadRequest as exc:
        fast = exc.message
    strict = strict_only(raw)
    assert fast == strict and type(fast) is type(strict)


def test_an_integer_past_64_bits_stays_an_exact_integer_and_is_written_back_exactly() -> None:
    value = decode_json(b'{"seed": 18446744073709551617}')
    assert value == {"seed": 18446744073709551617} and isinstance(value["seed"], int)
    assert dumps(value) == b'{"seed":18446744073709551617}'


def test_an_agents_conversation_round_trips_byte_for_byte_in_meaning() -> None:
    body = long_body.conversation("claude-sonnet")
    raw = json.dumps(body).encode()
    assert len(raw) > 130_000 and len(body["messages"]) == 100
    assert decode_json(raw) == body == json.loads(dumps(body))
    assert dumps({"text": "naïve ✓"}) == "{\"text\":\"naïve ✓\"}".encode()  # UTF-8 as it is, not escaped
