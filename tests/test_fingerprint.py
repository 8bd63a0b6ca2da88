"""A conversation is fingerprinted once per request, and every step keyed by it agrees on the key."""

from __future__ import annotations

import pytest

from proxy.chat import ChatRequest
from proxy.fingerprint import conversation_hash, fingerprint
from proxy.money import estimate
from proxy.storage.store import prompt_hash

MESSAGES = [{"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "Rename parse() to read_config()."},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "grep", "arguments": '{"pattern": "parse("}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "config.py:12: def parse(path):"}]


def test_the_same_conversation_has_the_same_prompt_hash_however_it_is_recorded() -> None:
    chat = ChatRequest(model="auto", messages=MESSAGES)
    # An answered request records its ChatRequest's hash; a refused one, only its messages.
    copied = ChatRequest(model="x", messages=[dict(m) for m in MESSAGES])
    assert chat.prompt_hash == prompt_hash(MESSAGES) == copied.prompt_hash
    assert len(chat.prompt_hash) == 32


@pytest.mark.parametrize("change", [
    lambda ms: ms[1].update(content="Rename parse() to load_config()."),
    lambda ms: ms.pop(),
    lambda ms: ms.reverse(),
    lambda ms: ms[2]["tool_calls"][0]["function"].update(arguments='{"pattern": "parse"}'),
])
def test_any_change_to_the_conversation_changes_its_hash(change) -> None:  # type: ignore[no-untyped-def]
    changed = [dict(m, tool_calls=[dict(c, function=dict(c["function"])) for c in m["tool_calls"]])
               if "tool_calls" in m else dict(m) for m in MESSAGES]
    change(changed)
    assert prompt_hash(changed) != prompt_hash(MESSAGES)


def test_a_fingerprint_is_the_values_not_the_objects() -> None:
    assert fingerprint({"a": [1, 2.5, "é", None, True]}) == fingerprint({"a": [1, 2.5, "é", None, True]})
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})
    assert fingerprint(10**30) == fingerprint(10**30)  # an integer past 64 bits
    assert conversation_hash([]) != conversation_hash([fingerprint("")])


def test_counting_with_a_requests_fingerprints_uses_what_was_counted_without_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = "openrouter/openai/gpt-4o"
    chat = ChatRequest(model="auto", messages=MESSAGES)
    counted = estimate.count_input_tokens(model, MESSAGES)

    def no_second_count(*args: object, **kwargs: object) -> int:
        raise AssertionError("counted again")

    monkeypatch.setattr("litellm.token_counter", no_second_count)
    assert estimate.count_input_tokens(model, chat.messages, None, chat.fingerprints) == counted


def test_a_copy_with_other_parameters_keeps_the_fingerprints_and_one_with_other_messages_does_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import proxy.chat
    taken: list[object] = []
    monkeypatch.setattr(proxy.chat, "fingerprint", lambda message: taken.append(message) or fingerprint(message))
    chat = ChatRequest(model="auto", messages=MESSAGES, params={"max_tokens": 500})
    prints = chat.fingerprints
    assert chat.limited_to(100).fingerprints == dataclasses.replace(chat, model="x").fingerprints == prints
    assert len(taken) == len(MESSAGES)  # taken once, for the three
    other = dataclasses.replace(chat, messages=MESSAGES[:2])
    assert other.fingerprints == chat.fingerprints[:2] and other.prompt_hash != chat.prompt_hash
    assert len(taken) == len(MESSAGES) + 2
