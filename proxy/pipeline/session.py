"""Sessions: which requests belong to one conversation, and what staying on a cloud model would cost.

A client that names its session (`X-Session-Id`, or OpenCode's
`X-Session-Affinity`) gets that one. Otherwise the conversation's own history
says: aider, OpenCode and Continue resend the whole conversation every turn,
so a request that carries one of Hermes's answers continues the session that
answer was given in. Agents rewrite the rest of their history as they go
(aider moves its "files in chat" messages, with the files' new contents,
after the earlier turns; Continue writes tool arguments out again; OpenCode
compacts old turns, aider drops the instructions it appended to the message
an answer answered, Claude Code fills in a tool call's default arguments),
so the link is what they cannot change: each answer Hermes gave, its text
and its tool calls (by id, and by arguments), digested with the client
(`answer_links`). The next turn
looks its latest assistant messages (ANSWERS_LOOKED_UP) up among those links,
all in one query, and continues the session most of them belong to, from the
latest.

Two conversations that open alike ("hi") start as two sessions, since a
request with no answer in it gets a new id. An answer is continued by one
turn (a retry of that turn is the same turn): a second conversation going on
from the same answer (the same words, answered the same way) takes the
other session that answer was given in, or forks into a new one. A link
unused for `idle_timeout_s` has expired.

Staying on a cloud model rides on the links too: it is kept only by the
conversation whose own history holds the answer of the upgrade it accepted.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxy.chat import message_text
from proxy.errors import BadRequest
from proxy.fingerprint import Fingerprint, fingerprint
from proxy.money.cache_use import CacheUse, assumed, turn_cost_usd
from proxy.money.estimate import count_text_tokens
from proxy.money.pricing import Price

if TYPE_CHECKING:
    from proxy.storage.store import Store

MAX_SESSION_ID_CHARS = 128
# A client's session id is echoed in the X-Hermes-Session-Id header and typed back into
# session-impact, so it must be printable ASCII: a CR, LF or NUL there would cut the
# response, and one rewritten to fit would no longer find its session.
SESSION_ID_CHARS = re.compile(r"[\x20-\x7e]*")
# A conversation's answers looked up among the links, the latest first: enough to find its session when an agent
# has rewritten or dropped some of them, and no more, so a long session costs what a short one does.
ANSWERS_LOOKED_UP = 16
# Sessions the mean length is learned from before it replaces the default.
MIN_SESSIONS_TO_LEARN = 3


@dataclass(frozen=True)
class Conversation:
    """The shape of a conversation so far, as the session model needs it."""

    session_id: str
    # Requests so far, this one included: the user messages, or for an agent (whose tool results are no user
    # messages) one more than the answers it carries back, each of which was a request of its own.
    turns: int
    mean_user_tokens: int
    named: bool = False  # the client named the session
    client: str = ""  # the client (its User-Agent), digested: an answer links within one client's sessions
    answers: tuple[tuple[int, str], ...] = ()  # (position, link) of each assistant message: looked up by `resolve`
    # The messages, for `after`: only what follows an answer is digested, and only once its session is found.
    messages: Sequence[dict[str, Any]] = dataclasses.field(default=(), repr=False, compare=False)
    stays_on: str | None = None  # the cloud model this conversation accepted an upgrade to, from its link
    resumed: bool = False  # a session that was there before this request (named, or found by its link)
    answered_at: int | None = None  # where in the messages the session's latest answer is, when found by it

    def after(self, position: int) -> str:
        """What follows the message at `position`, digested: the turn that goes on from that answer.

        Usually a tool result or two: the history before the answer is not read again.
        """
        return hashlib.sha256("\0".join(_digests(m)[0] for m in self.messages[position + 1:]).encode()).hexdigest()


@dataclass(frozen=True)
class SessionImpact:
    """What moving this conversation to one cloud model would cost, now and for the rest of the session.

    Every turn resends the whole context, which grows by about the same
    amount each turn; the provider's prompt cache bills most of it at the
    cache-read price and what is new at the cache-write price, as far as the
    agent was seen to use it (money/cache_use.py). The first turn on a model
    writes the whole context to its cache: the context transfer.
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
    cache_read_ratio: float  # of a turn's previous context, the share assumed read from the cache
    cache_write_ratio: float  # of the rest, the share assumed written to it
    cache_learned_from_turns: int  # 0: assumed from the model's prices, no turn seen yet


def identify(headers: Mapping[str, str], messages: Sequence[dict[str, Any]],
             fingerprints: Sequence[Fingerprint] | None = None) -> Conversation:
    """The request's conversation: a named session, or the digests `resolve` finds its session by.

    BadRequest for a session id that is not printable ASCII. `fingerprints`: the messages' own
    (ChatRequest.fingerprints), by which answers digested before are remembered.
    """
    given = (headers.get("x-session-id") or headers.get("x-session-affinity") or "").strip()
    if not SESSION_ID_CHARS.fullmatch(given):
        raise BadRequest("The session id (X-Session-Id, or 'session_id') must be printable ASCII: letters, digits, "
                         "punctuation and spaces.", code="invalid_session_id")
    user_texts = [message_text(m) for m in messages if m.get("role") == "user"]
    tokens = [count_text_tokens(text) for text in user_texts if text]  # remembered: a session repeats them
    mean_user_tokens = round(sum(tokens) / len(tokens)) if tokens else 0
    client = hashlib.sha256(headers.get("user-agent", "").encode()).hexdigest()
    # Only the latest answers are digested here (a conversation that goes on carries them): not the tool results,
    # most of an agent's bytes, nor the answers before, which a long session would otherwise digest every turn.
    latest = [position for position, message in enumerate(messages) if message.get("role") == "assistant"]
    answers = tuple((position, _link(client, digest)) for position in latest[-ANSWERS_LOOKED_UP:]
                    for digest in _remembered_digests(messages[position], fingerprints[position] if fingerprints
                                                      else fingerprint(messages[position])))
    turns = max(len(user_texts), sum(1 for m in messages if m.get("role") == "assistant") + 1)
    return Conversation(given[:MAX_SESSION_ID_CHARS], turns, mean_user_tokens, named=bool(given),
                        client=client, answers=answers, messages=messages)


async def resolve(conversation: Conversation, store: Store, idle_timeout_s: float) -> Conversation:
    """`conversation` with its session: the named one, the one its earlier answers were given in, or a new one.

    Of the sessions its assistant messages are answers of, the one with the
    most of them (then as ranked below); this turn goes on from its latest
    answer here, unless another turn already did.
    """
    if conversation.named:
        return dataclasses.replace(conversation, resumed=True)
    if conversation.answers:
        position_of = {link: position for position, link in conversation.answers}
        found: dict[str, list[dict[str, Any]]] = {}
        for row in await store.answer_links(list(position_of), idle_timeout_s):
            found.setdefault(row["session_id"], []).append(row | {"position": position_of[row["link_sha256"]]})
        at = {session: max(row["position"] for row in rows) for session, rows in found.items()}
        latest = {session: [row for row in rows if row["position"] == at[session]] for session, rows in found.items()}
        goes_on = {session: conversation.after(position) for session, position in at.items()}

        def went_on(session: str) -> int:  # 0: no turn yet, 1: this very turn (a retry), 2: another (a fork)
            nexts = {row["next_sha256"] for row in latest[session]} - {None}
            return 0 if not nexts else 1 if nexts == {goes_on[session]} else 2

        # The most answers; then the latest; then one no turn went on from yet (two identical conversations,
        # an agent's task run twice: each its own), then one this very turn went on from before (a retry);
        # then the oldest session.
        ranked = sorted(found, key=lambda session: (
            -len({row["position"] for row in found[session]}), -at[session], went_on(session),
            min(row["created_at"] for row in found[session])))
        for session in ranked:
            if went_on(session) == 2:
                continue  # another turn went on from that answer: a fork
            links = [row["link_sha256"] for row in latest[session]]
            cloud_model = await store.claim_answer_link(links, session, goes_on[session])
            if cloud_model is not False:
                return dataclasses.replace(conversation, session_id=session, stays_on=cloud_model or None,
                                           resumed=True, answered_at=at[session])
    return dataclasses.replace(conversation, session_id=new_session_id())


def answer_links(conversation: Conversation, answer: dict[str, Any]) -> tuple[str, ...]:
    """The links the next turn will look up: `answer` (an assistant message), as this conversation's client sent it."""
    return tuple(_link(conversation.client, digest) for digest in _digests(answer))


def new_session_id() -> str:
    return f"s-{secrets.token_hex(8)}"


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
    use: CacheUse | None = None,
    growth_tokens: int | None = None,
    on_model: bool = False,
) -> SessionImpact:
    """The single task on `model`, then `projected_remaining_turns` more with the context growing.

    Turn k (1..R) sends context + k x growth tokens, of which what the turn
    before sent is read from the cache and the rest written, as far as `use`
    says (assumed from the prices when None), and gets `output_tokens` back.
    growth: `growth_tokens` (what the session's own turns grew by), else the
    mean user message + one answer. `on_model`: the conversation's last turn
    was on `model` already, so this one reads its cache too.
    """
    use = use or assumed(price)
    growth = growth_tokens if growth_tokens is not None else conversation.mean_user_tokens + output_tokens
    single = turn_cost_usd(price, max(context_tokens - growth, 0) if on_model else 0, context_tokens, output_tokens, use)
    rest, previous = single, context_tokens
    for turn in range(1, projected_remaining_turns + 1):
        sent = context_tokens + turn * growth
        rest += turn_cost_usd(price, previous, sent, output_tokens, use)
        previous = sent
    return SessionImpact(
        model=model,
        turns_so_far=conversation.turns,
        context_tokens=context_tokens,
        context_transfer_cost_usd=turn_cost_usd(price, 0, context_tokens, 0, use),
        projected_remaining_turns=projected_remaining_turns,
        growth_tokens_per_turn=growth,
        single_task_cost_usd=single,
        rest_of_session_cost_usd=rest,
        cost_per_task_usd=rest / (projected_remaining_turns + 1),
        session_premium=rest / single if single > 0 else 0.0,
        cache_read_ratio=use.read,
        cache_write_ratio=use.write,
        cache_learned_from_turns=use.turns,
    )


def growth_per_turn(turns: Sequence[dict[str, Any]]) -> int | None:
    """How much the context grew per turn over a session's own turns (tasks rows, oldest first), or None."""
    if len(turns) < 2:
        return None
    grown = (int(turns[-1]["input_tokens"]) - int(turns[0]["input_tokens"])) / (len(turns) - 1)
    return round(grown) if grown > 0 else None


@functools.lru_cache(maxsize=4096)
def _link(client: str, answer: str) -> str:
    """An answer's link: the client and the answer, digested (remembered: every turn resends every answer)."""
    return hashlib.sha256(f"{client}\0{answer}".encode()).hexdigest()


def _digests(message: dict[str, Any]) -> tuple[str, ...]:
    """One message as a client echoes it back, digested: its role, text and tool calls; two ways for tool calls.

    Whitespace is folded and content parts joined. A tool call is known both
    by its id and by its arguments (read as JSON), since clients keep one or
    the other: Claude Code sends the id back but fills in default arguments
    (`"replace_all": false`); a Gemini client's calls have no id, so the one a
    translation gives them is new each time, but their arguments come back as
    they went. Continue's CLI writes arguments out again (`{"path":"a"}` for
    `{"path": "a"}`), which reading them as JSON undoes.
    """
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    functions = [c.get("function") if isinstance(c.get("function"), dict) else {} for c in calls]
    text = " ".join(message_text(message).split())
    head = f"{message.get('role')}\0{text}"
    by_arguments = head + "".join(f"\0{f.get('name')}\0{_arguments(f.get('arguments'))}" for f in functions)
    spellings = [by_arguments]
    if calls and all(c.get("id") for c in calls):
        spellings.insert(0, head + "".join(f"\0{f.get('name')}\0{c['id']}" for c, f in zip(calls, functions)))
    return tuple(_digest(s) for s in spellings)


def _digest(spelling: str) -> str:
    return hashlib.sha256(spelling.encode(errors="surrogatepass")).hexdigest()


# An agent resends every earlier answer each turn (49 of them by the middle of an OpenCode task, which took 0.3 ms
# a request to digest anew, and 36 us with each spelling's digest remembered): each is digested once, remembered
# by its fingerprint, which the request took once for all its steps. Bounded: a few sessions' worth.
DIGESTS_REMEMBERED = 4096
_digested: OrderedDict[Fingerprint, tuple[str, ...]] = OrderedDict()


def _remembered_digests(message: dict[str, Any], print_: Fingerprint) -> tuple[str, ...]:
    """`_digests(message)`, computed once per distinct message (as its fingerprint tells)."""
    digests = _digested.get(print_)
    if digests is None:
        digests = _digested[print_] = _digests(message)
        if len(_digested) > DIGESTS_REMEMBERED:
            _digested.popitem(last=False)  # the least recently seen
    else:
        _digested.move_to_end(print_)
    return digests


def _arguments(arguments: Any) -> str:
    """A tool call's arguments in one spelling (compact JSON, sorted keys, or as they came if not JSON), digested."""
    return _spelled(arguments) if isinstance(arguments, str) else str(arguments)


# Every turn of an agent resends all its earlier tool calls: each is read once, not once a turn
# (40 edits in a conversation cost 260 us a request unremembered). Bounded: a few sessions' worth.
@functools.lru_cache(maxsize=512)
def _spelled(arguments: str) -> str:
    try:
        spelling = json.dumps(json.loads(arguments), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser will follow
        spelling = arguments
    return hashlib.sha256(spelling.encode(errors="surrogatepass")).hexdigest()
