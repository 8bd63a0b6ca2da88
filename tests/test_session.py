"""Sessions: grouping requests into conversations, and the cost of staying on a cloud model."""

from __future__ import annotations

import litellm
import pytest

from proxy.config import load_config
from proxy.estimate import count_input_tokens
from proxy.pricing import Price, PriceTable
from proxy.session import identify, remaining_turns, session_impact
from tests.conftest import REPO

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


def test_session_id_comes_from_the_header_or_the_stable_prefix() -> None:
    messages = six_turns()
    assert identify({"x-session-id": "ses_123"}, messages).session_id == "ses_123"
    first = identify({}, messages[:2])
    later = identify({}, messages)
    assert first.session_id == later.session_id and first.session_id.startswith("s-")
    other = identify({}, [SYSTEM, {"role": "user", "content": "Something else entirely."}])
    assert other.session_id != first.session_id
    assert (first.turns, later.turns) == (1, 6)


def test_remaining_turns_are_learned_once_enough_sessions_are_known() -> None:
    assert remaining_turns(None, 0, 6, default=25) == 25
    assert remaining_turns(12.0, 2, 6, default=25) == 25  # too few sessions yet
    assert remaining_turns(12.0, 3, 6, default=25) == 6
    assert remaining_turns(4.0, 10, 6, default=25) == 1  # already past the mean: at least one more


def test_six_turn_session_impact_matches_a_hand_computation() -> None:
    messages = six_turns()
    conversation = identify({}, messages)
    opus = PriceTable.from_config(load_config(REPO, {})).price("claude-3-opus")
    assert opus == Price(15e-6, 75e-6, 1.5e-6, 4096)
    context = count_input_tokens("openrouter/anthropic/claude-3-opus", messages)
    output = 400

    impact = session_impact("claude-3-opus", opus, context, output, conversation, projected_remaining_turns=4)

    user_tokens = [litellm.token_counter(text=text) for text in USER_TURNS]
    growth = round(sum(user_tokens) / 6) + 400
    single = context * 15e-6 + 400 * 75e-6
    # Turn k resends context + k*growth tokens: all but the newest growth from the cache.
    rest = single + sum(
        (context + k * growth - growth) * 1.5e-6 + growth * 15e-6 + 400 * 75e-6 for k in range(1, 5))
    assert conversation.turns == 6 and impact.turns_so_far == 6
    assert impact.context_tokens == context
    assert impact.context_transfer_cost_usd == pytest.approx(context * 15e-6)
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
