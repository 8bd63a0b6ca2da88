"""JSON in and out of Hermes: request bodies decoded strictly, bodies for upstreams encoded, both fast.

An agent resends its whole conversation every turn (OpenCode's is 139 KB by
the middle of a task), so what is done to every byte of a body is done to
every byte of the history on every request. orjson decodes and encodes in
C, a tenth of the time of Python's json (65 us and 30 us for that body,
against 190 us and 300 us), and already refuses most of what Hermes refuses:
NaN and Infinity, numbers that overflow a float, lone surrogates, bytes that
are not UTF-8. Python's json stays the decoder of record for everything
else: a body orjson refuses, or one where orjson may have read an integer
differently (it reads one past 64 bits as a float), is decoded again by the
strict path below, so the verdict and its message are the same either way.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from starlette.responses import JSONResponse

from proxy.errors import BadRequest

# Decoding limits, far past what any chat body needs: 64 levels leaves room
# for nested tool schemas, and 64 digits for any count or seed, well short of
# the 4300 digits at which Python's int() gives up.
MAX_DEPTH = 64
MAX_INT_DIGITS = 64
# orjson reads an integer outside 64 bits as a float: such a float may have been an integer.
_INT_RANGE = float(2**63)

# For the depth check on the raw bytes (in UTF-8 no multi-byte character holds an ASCII byte):
# strings, then everything but brackets, removed; braces become brackets. An unterminated
# string runs to the end, so no match is retried from the next quote (which is quadratic).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def decode_json(raw: bytes) -> Any:
    """`raw` decoded as JSON, or BadRequest (invalid_json) for anything a later step could not handle.

    Refused, beyond malformed JSON: bytes that are not UTF-8, NaN and
    Infinity (Python's json takes them; nothing can store or send them
    back), numbers that overflow a float, integers over MAX_INT_DIGITS
    digits, nesting deeper than MAX_DEPTH (no later step recurses deeply) and
    lone UTF-16 surrogates (they cannot be written out as UTF-8 again).
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _decode_strictly(raw)  # refused: the strict path says why, in its words
    if _too_deep_or_wide_number(value):
        return _decode_strictly(raw)
    return value


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON, for a body Hermes sends on; Python's json for an integer past 64 bits."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: an integer orjson cannot write (the strict decoder kept it exact)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse, its body written by `dumps`: an answer's envelope, each response."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def _too_deep_or_wide_number(value: Any) -> bool:
    """Nested deeper than MAX_DEPTH, or holding a float that may have been an integer past 64 bits."""
    return _deep_or_wide([value], 0)


def _deep_or_wide(items: Any, depth: int) -> bool:
    # orjson makes exactly dict, list, str, int, float, bool and None, so `type(...) is` says what an item
    # is, faster than isinstance; strings, most of a chat body's items, are passed over first. The
    # recursion is bounded: it goes no deeper than MAX_DEPTH.
    for item in items:
        kind = type(item)
        if kind is str:
            continue
        if kind is dict:
            if depth >= MAX_DEPTH or _deep_or_wide(item.values(), depth + 1):
                return True
        elif kind is list:
            if depth >= MAX_DEPTH or _deep_or_wide(item, depth + 1):
                return True
        elif kind is float and abs(item) >= _INT_RANGE:
            return True
    return False


def _decode_strictly(raw: bytes) -> Any:
    """Python's json with every limit checked; the path for bodies orjson refused or may have read otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"it is not UTF-8 (byte {exc.start} is {raw[exc.start:exc.start + 1]!r}).") from None
    _check_depth(raw)
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except _Refused as exc:
        raise _invalid(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise _invalid(f"{exc}.") from None
    except RecursionError:  # _check_depth should make this unreachable
        raise _invalid(f"it nests arrays and objects more than {MAX_DEPTH} levels deep.") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid("a string holds a lone UTF-16 surrogate (such as \\ud800); send valid Unicode.") from None
    return value


class _Refused(ValueError):
    """Raised from a json.loads hook; its message says why."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; send a finite number or null.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:32]} is too large for a 64-bit float.")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer has more than {MAX_INT_DIGITS} digits.")
    return int(text)


def _check_depth(raw: bytes) -> None:
    """BadRequest if `raw` nests deeper than MAX_DEPTH, without recursing.

    With strings removed, the brackets left are JSON's structure; each pass
    removes every innermost pair, so balanced brackets vanish in as many
    passes as they nest deep.
    """
    brackets = _STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return
        inner_removed = brackets.replace(b"[]", b"")
        if inner_removed == brackets:  # unbalanced, so not JSON: json.loads says where, unless it could nest far
            if len(brackets) > MAX_DEPTH:
                raise _invalid(f"its brackets do not balance ({len(brackets)} left unpaired).")
            return
        brackets = inner_removed
    if brackets:
        raise _invalid(f"it nests arrays and objects more than {MAX_DEPTH} levels deep.")


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"The request body is not valid JSON: {reason}", code="invalid_json")
