"""Sessions: grouping requests into conversations, and the cost of staying on a cloud model."""

from __future__ import annotations

from pathlib import Path

import litellm
import pytest

from proxy.config import load_config
from proxy.money.estimate import count_input_tokens
from proxy.money.pricing import Price, PriceTable
from proxy.pipeline.session import (
    ANSWERS_LOOKED_UP,
    Conversation,
    answer_links,
    identify,
    remaining_turns,
    resolve,
    session_impact,
)
from proxy.storage.store import Store
from tests.conftest import fixed_files
from tests.postgres import query

SYSTEM = {"role": "system", "content": "Act as an expert software developer. Always use best practices."}
USER_TURNS = [
    "Add a --verbose flag to the CLI.",
    "Now make it print each file as it is processed.",
    "The output is too noisy; only print files that changed.",
    "Add a test for that.",
    "The test fails on Windows paths, fix it.",
    "Refactor the printing into its own function.",
]
ANSWERS = ["Done: added the flag.", "Each file is printed now.", "Only changed files are printed.",
           "Added test_verbose_prints_changed_files.", "Paths are normalised with pathlib now."]


def six_turns() -> list[dict]:
    messages = [SYSTEM]
    for index, text in enumerate(USER_TURNS):
        messages.append({"role": "user", "content": text})
        if index < len(ANSWERS):
            messages.append({"role": "assistant", "content": ANSWERS[index]})
    return messages


def test_a_named_session_is_the_clients_own() -> None:
    messages = six_turns()
    assert identify({"x-session-id": "ses_123"}, messages).session_id == "ses_123"
    assert identify({"x-session-affinity": "ses_oc"}, messages).named  # OpenCode sends both
    assert identify({}, messages).named is False
    assert (identify({}, messages[:2]).turns, identify({}, messages).turns) == (1, 6)


HI = [{"role": "user", "content": "hi"}]
HELLO = {"role": "assistant", "content": "Hello! How can I help?"}


async def answered(store: Store, messages: list[dict], answer: dict, cloud_model: str | None = None,
                   headers: dict | None = None) -> Conversation:
    """One turn as the pipeline does it: resolve the session, then link the answer given."""
    conversation = await resolve(identify(headers or {}, messages), store, idle_timeout_s=3600)
    for link in answer_links(conversation, answer):
        await store.add_answer_link(link, conversation.session_id, cloud_model)
    return conversation


@pytest.mark.asyncio
async def test_two_conversations_that_open_with_hi_are_two_sessions(database: Path | str) -> None:
    store = await Store.open(database)
    try:
        a1 = await answered(store, HI, HELLO)
        b1 = await answered(store, HI, HELLO)  # the same words, the same (deterministic) answer
        assert a1.session_id != b1.session_id and a1.session_id.startswith("s-")
        a2 = await answered(store, HI + [HELLO, {"role": "user", "content": "fix the typo in README"}], HELLO)
        b2 = await answered(store, HI + [HELLO, {"role": "user", "content": "write a haiku"}], HELLO)
        assert a2.session_id == a1.session_id  # the first to go on from the shared answer keeps the session
        assert b2.session_id == b1.session_id  # the other goes on in the other session that answer was given in
        retried = await resolve(identify({}, HI + [HELLO, {"role": "user", "content": "fix the typo in README"}]),
                                store, idle_timeout_s=3600)
        assert retried.session_id == a1.session_id  # a retry of the same turn is the same session
        c2 = await answered(store, HI + [HELLO, {"role": "user", "content": "a third"}], HELLO)
        assert c2.session_id not in (a1.session_id, b1.session_id)  # a third forks into its own
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_only_the_conversation_that_accepted_an_upgrade_stays_on_it(database: Path | str) -> None:
    store = await Store.open(database)
    try:
        cloud_answer = {"role": "assistant", "content": "Hi there, claude here."}
        await answered(store, HI, cloud_answer, cloud_model="claude-3.5-sonnet")  # A accepted the upgrade
        await answered(store, HI, HELLO)  # B stayed local
        a2 = await resolve(identify({}, HI + [cloud_answer, {"role": "user", "content": "go on"}]), store, 3600)
        b2 = await resolve(identify({}, HI + [HELLO, {"role": "user", "content": "go on"}]), store, 3600)
        assert (a2.stays_on, b2.stays_on) == ("claude-3.5-sonnet", None)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_an_answer_resent_in_another_shape_still_links_and_an_idle_one_expires(
    database: Path | str,
) -> None:
    store = await Store.open(database)
    try:
        first = await answered(store, HI, {"role": "assistant", "content": "Hello!  How can\nI help?"},
                               headers={"user-agent": "aider/0.86"})
        parts = {"role": "assistant", "content": [{"type": "text", "text": "Hello! How can I help?"}]}
        later = identify({"user-agent": "aider/0.86"}, HI + [parts, {"role": "user", "content": "more"}])
        assert (await resolve(later, store, 3600)).session_id == first.session_id
        other_client = identify({"user-agent": "curl/8"}, HI + [parts, {"role": "user", "content": "more"}])
        assert (await resolve(other_client, store, 3600)).session_id != first.session_id
        query(database, "UPDATE answer_links SET created_at = '2020-01-01T00:00:00+00:00', next_sha256 = NULL")
        assert (await resolve(later, store, 3600)).session_id != first.session_id  # idle for years: a new one
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_an_agent_that_writes_a_tool_calls_arguments_out_again_stays_in_its_session(
    database: Path | str,
) -> None:
    """Continue's CLI parses a tool call's arguments and sends them back compact: the session must still link."""
    store = await Store.open(database)
    try:
        task = [{"role": "user", "content": "fix the typo in greet.py"}]
        read = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "Read", "arguments": '{"filepath": "greet.py",  "limit": 200}'}}]}
        first = await answered(store, task, read, cloud_model="gemini-flash", headers={"user-agent": "ls/JS 5.23.2"})
        echoed = {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "Read", "arguments": '{"limit":200,"filepath":"greet.py"}'}}]}
        result = {"role": "tool", "tool_call_id": "call_1", "content": 'def greet(name):\n    return f"Helo, {name}!"'}
        second = await resolve(identify({"user-agent": "ls/JS 5.23.2"}, task + [echoed, result]), store, 3600)
        assert (second.session_id, second.stays_on) == (first.session_id, "gemini-flash")
        other = {**echoed, "tool_calls": [{"id": "call_2", "type": "function", "function": {
            "name": "Read", "arguments": '{"filepath":"other.py","limit":200}'}}]}
        elsewhere = await resolve(identify({"user-agent": "ls/JS 5.23.2"}, task + [other, result]), store, 3600)
        assert elsewhere.session_id != first.session_id  # another call (its id, its arguments) is another answer
        fresh_id = {**echoed, "tool_calls": [{"id": "call_9", "type": "function", "function": {
            "name": "Read", "arguments": '{"filepath":"greet.py","limit":200}'}}]}
        again = await resolve(identify({"user-agent": "ls/JS 5.23.2"}, task + [fresh_id, result]), store, 3600)
        assert again.session_id == first.session_id  # a Gemini client's call gets a new id each translation
        filled = {**echoed, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "Read", "arguments": '{"filepath":"greet.py","limit":200,"offset":0}'}}]}
        third = await resolve(identify({"user-agent": "ls/JS 5.23.2"}, task + [filled, result]), store, 3600)
        assert third.session_id == first.session_id  # Claude Code fills in defaults: the same call, by its id
        escaped = {**echoed, "tool_calls": [{"type": "function", "function": {  # no id: known by its arguments
            "name": "Read", "arguments": '{"filepath": "\\ud800.py"}'}}]}  # valid JSON text, a lone surrogate inside
        assert identify({}, task + [escaped, result]).answers
        nested = {**echoed, "tool_calls": [{"type": "function", "function": {
            "name": "Read", "arguments": "[" * 100_000 + "]" * 100_000}}]}  # deeper than json.loads follows
        assert identify({}, task + [nested, result]).answers  # a digest, never a 500
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_long_agent_session_stays_one_session_looking_up_only_its_latest_answers(
    database: Path | str,
) -> None:
    # An agent resends every tool call so far each turn; digesting all of them made a turn's cost grow with
    # the session. Only the latest ANSWERS_LOOKED_UP are looked up, and that finds the session every turn.
    store = await Store.open(database)
    try:
        messages: list[dict] = [SYSTEM, {"role": "user", "content": "Rename parse() to read_config() everywhere."}]
        sessions = set()
        for turn in range(60):
            call = {"role": "assistant", "content": "", "tool_calls": [{
                "id": f"call_{turn}", "type": "function",
                "function": {"name": "read", "arguments": f'{{"filePath": "src/m{turn}.py"}}'}}]}
            conversation = await answered(store, messages, call)
            assert len(conversation.answers) <= 2 * ANSWERS_LOOKED_UP  # each answer: by id and by arguments
            sessions.add(conversation.session_id)
            messages += [call, {"role": "tool", "tool_call_id": f"call_{turn}", "content": f"line {turn}\n" * 50}]
        assert len(sessions) == 1
    finally:
        await store.close()


def test_remaining_turns_are_learned_once_enough_sessions_are_known() -> None:
    assert remaining_turns(None, 0, 6, default=25) == 25
    assert remaining_turns(12.0, 2, 6, default=25) == 25  # too few sessions yet
    assert remaining_turns(12.0, 3, 6, default=25) == 6
    assert remaining_turns(4.0, 10, 6, default=25) == 1  # already past the mean: at least one more


def test_six_turn_session_impact_matches_a_hand_computation() -> None:
    messages = six_turns()
    conversation = identify({}, messages)
    opus = PriceTable.from_config(load_config(fixed_files(), {})).price("claude-3-opus")
    assert (opus.input_usd, opus.output_usd, opus.cache_read_usd, opus.cache_write_usd) == (
        15e-6, 75e-6, 1.5e-6, 18.75e-6)
    context = count_input_tokens("openrouter/anthropic/claude-3-opus", messages)
    output = 400

    impact = session_impact("claude-3-opus", opus, context, output, conversation, projected_remaining_turns=4)

    user_tokens = [litellm.token_counter(text=text) for text in USER_TURNS]
    growth = round(sum(user_tokens) / 6) + 400
    # No turn seen yet: the cache is assumed used as far as opus prices it. Moving to it writes the whole
    # context to its cache (1.25x the input price)...
    single = context * 18.75e-6 + 400 * 75e-6
    # ...and turn k resends context + k*growth tokens: what the turn before sent read from the cache, the
    # newest growth written to it.
    rest = single + sum(
        (context + k * growth - growth) * 1.5e-6 + growth * 18.75e-6 + 400 * 75e-6 for k in range(1, 5))
    assert conversation.turns == 6 and impact.turns_so_far == 6
    assert impact.context_tokens == context
    assert (impact.cache_read_ratio, impact.cache_write_ratio, impact.cache_learned_from_turns) == (1.0, 1.0, 0)
    assert impact.context_transfer_cost_usd == pytest.approx(context * 18.75e-6)
    assert impact.growth_tokens_per_turn == growth
    assert impact.single_task_cost_usd == pytest.approx(single)
    assert impact.rest_of_session_cost_usd == pytest.approx(rest)
    assert impact.cost_per_task_usd == pytest.approx(rest / 5)
    assert impact.session_premium == pytest.approx(rest / single)


def test_without_a_cache_price_every_turn_pays_full_input() -> None:
    conversation = identify({}, six_turns())
    price = Price(3e-6, 15e-6)
    impact = session_impact("x", price, 1000, 100, conversation, projected_remaining_turns=2)
    growth = impact.growth_tokens_per_turn
    expected = sum((1000 + k * growth) * 3e-6 + 100 * 15e-6 for k in range(0, 3))
    assert impact.rest_of_session_cost_usd == pytest.approx(expected)
