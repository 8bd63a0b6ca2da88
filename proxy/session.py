"""Sessions: which requests belong to one conversation, and what staying on a cloud model would cost.

aider, OpenCode and Continue resend the whole conversation every turn, so a
session is recognised by its stable prefix (system prompt + first user
message) when the client sends no `X-Session-Id`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


from proxy.errors import BadRequest
from proxy.estimate import count_text_tokens
from proxy.pricing import Price
from proxy.chat import message_text

MAX_SESSION_ID_CHARS = 128
# A client's session id is echoed in the X-Hermes-Session-Id header and typed back into
# session-impact, so it must be printable ASCII: a CR, LF or NUL there would cut the
# response, and one rewritten to fit would no longer find its session.
SESSION_ID_CHARS = re.compile(r"[\x20-\x7e]*")
# Sessions the mean length is learned from before it replaces the default.
MIN_SESSIONS_TO_LEARN = 3


@dataclass(frozen=True)
class Conversation:
    """The shape of a conversation so far, as the session model needs it."""

    session_id: str
    turns: int  # user messages so far, this one included
    mean_user_tokens: int


@dataclass(frozen=True)
class SessionImpact:
    """What moving this conversation to one cloud model would cost, now and for the rest of the session.

    Every turn resends the whole context, which grows by one user message and
    one answer per turn; context already sent last turn is billed at the
    cache-read price where the model has one.
    """

    model: str
    turns_so_far: int
    context_tokens: int
    context_transfer_cost_usd: float
    projected_remaining_turns: int
    growth_tokens_per_turn: int
    single_task_cost_usd: float
    rest_of_session_cost_usd: float
    cost_per_task_usd: float
    session_premium: float


def identify(headers: Mapping[str, str], messages: Sequence[dict[str, Any]]) -> Conversation:
    """The session a request belongs to, and its turns so far; BadRequest for an id that is not printable ASCII."""
    given = headers.get("x-session-id", "").strip()
    if not SESSION_ID_CHARS.fullmatch(given):
        raise BadRequest("The session id (X-Session-Id, or 'session_id') must be printable ASCII: letters, digits, "
                         "punctuation and spaces.", code="invalid_session_id")
    session_id = given[:MAX_SESSION_ID_CHARS] if given else _derived_id(messages)
    user_texts = [message_text(m) for m in messages if m.get("role") == "user"]
    tokens = [count_text_tokens(text) for text in user_texts if text]  # remembered: a session repeats them
    mean_user_tokens = round(sum(tokens) / len(tokens)) if tokens else 0
    return Conversation(session_id, max(len(user_texts), 1), mean_user_tokens)


def remaining_turns(mean_session_turns: float | None, sessions_known: int, turns_so_far: int, default: int) -> int:
    """Turns left after this one: the learned mean session length, once enough sessions are known."""
    if mean_session_turns is None or sessions_known < MIN_SESSIONS_TO_LEARN:
        return default
    return max(1, round(mean_session_turns - turns_so_far))


def session_impact(
    model: str,
    price: Price,
    context_tokens: int,
    output_tokens: int,
    conversation: Conversation,
    projected_remaining_turns: int,
) -> SessionImpact:
    """The single task on `model`, then `projected_remaining_turns` more with the context growing.

    Turn k (1..R) sends context + k x growth tokens, of which all but the
    newest growth were sent before (cache-read where priced), and gets
    `output_tokens` back; growth = mean user message + one answer.
    """
    growth = conversation.mean_user_tokens + output_tokens
    single = price.cost_usd(context_tokens, output_tokens)
    rest = single
    for turn in range(1, projected_remaining_turns + 1):
        sent = context_tokens + turn * growth
        rest += price.cost_usd(sent, output_tokens, cached_tokens=sent - growth)
    return SessionImpact(
        model=model,
        turns_so_far=conversation.turns,
        context_tokens=context_tokens,
        context_transfer_cost_usd=context_tokens * price.input_usd,
        projected_remaining_turns=projected_remaining_turns,
        growth_tokens_per_turn=growth,
        single_task_cost_usd=single,
        rest_of_session_cost_usd=rest,
        cost_per_task_usd=rest / (projected_remaining_turns + 1),
        session_premium=rest / single if single > 0 else 0.0,
    )


def _derived_id(messages: Sequence[dict[str, Any]]) -> str:
    system = next((message_text(m) for m in messages if m.get("role") in ("system", "developer")), "")
    first_user = next((message_text(m) for m in messages if m.get("role") == "user"), "")
    digest = hashlib.sha256(f"{system}\0{first_user}".encode()).hexdigest()
    return f"s-{digest[:16]}"
