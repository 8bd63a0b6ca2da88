"""The quick check of a chat message vouches only for messages the full check accepts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.errors import BadRequest
from proxy.wire.json_codec import decode_json
from proxy.wire.validate import _check_message, _plainly_valid

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import long_body  # noqa: E402  (the OpenCode-sized conversation of `make bench`)

# Values of every JSON type, the wrong ones included, for each field the check reads.
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3),
                st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
# Messages of the shapes the quick check knows (and one it does not), before one thing is changed in them.
SHAPES = [
    {"role": "user", "content": "hi"},
    {"role": "tool", "content": "ok", "tool_call_id": "call_1"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": "{}"}},
        {"function": {"name": "grep", "arguments": "{}"}}]},
    {"role": "user", "content": "hi", "name": "ann"},
]


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and index in `value`, as paths from its top."""
    found = [path]
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found += _places(child, (*path, key))
    return found


@st.composite
def messages(draw: st.DrawFn) -> Any:
    """A known shape with one place set to another value ("" and bad roles included), removed, or a key added."""
    message = json.loads(json.dumps(draw(st.sampled_from(SHAPES))))
    path = draw(st.sampled_from(_places(message)))
    if not path:
        return draw(st.one_of(ANY, st.just(message)))
    *parents, last = path
    holder = message
    for key in parents:
        holder = holder[key]
    change = draw(st.sampled_from(["set", "remove", "add"]))
    if change == "remove" and isinstance(holder, dict):
        del holder[last]
    elif change == "add" and isinstance(holder, dict):
        holder[draw(st.sampled_from(["name", "refusal", "function_call", "tool_call_id", "tool_calls", "x"]))] = \
            draw(st.one_of(st.just("call_2"), ANY))
    else:
        holder[last] = draw(st.one_of(st.sampled_from(["", "robot", "function", "assistant"]), ANY))
    return message


def full_check_accepts(message: Any) -> bool:
    try:
        _check_message(0, message)
    except BadRequest:
        return False
    return True


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(messages())
def test_the_quick_check_never_accepts_what_the_full_check_refuses(message: Any) -> None:
    if _plainly_valid(message):
        assert full_check_accepts(message), message


def test_the_quick_check_vouches_for_an_agents_history() -> None:
    # Otherwise it saves nothing: every message of OpenCode's conversation is one of its shapes.
    messages = decode_json(json.dumps(long_body.conversation("some-model")).encode())["messages"]
    assert len(messages) == 100
    assert all(_plainly_valid(message) for message in messages)


@pytest.mark.parametrize("message", [
    {"role": "tool", "content": "ok", "tool_call_id": 7},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "function": {"name": "", "arguments": "{}"}}]},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}]},
    {"role": "user", "content": "hi", "name": 3},
    {"role": ["user"], "content": "hi"},
])
def test_a_bad_field_goes_to_the_full_check_which_names_it(message: dict[str, Any]) -> None:
    assert not _plainly_valid(message)
    assert not full_check_accepts(message)
