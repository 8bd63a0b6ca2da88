"""Which local models sit a request out, from their record: no time spent where they cannot win.

Two rules, each with a probe now and then (`cascade.probe_every`), so that a
model that got better, or a new one, is noticed:

- an agent's turn (the request offers tools, or asks for aider's edit
  formats) for a model that has never passed one: a small CPU model spends
  the whole deadline on such a turn and its answer is thrown away (Continue
  waited 20 s a turn, aider 7 s, for the cloud answer they got in the end).
  Such a skip is final when there is somewhere to escalate to: the cloud
  answers at once instead.
- a task type the model's answers are rarely accepted for (below
  `skip_below_acceptance` over its last `skip_window` tries). That skip saves
  time, never the answer: when no other local model answered, the best
  skipped one is tried all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.chat import ChatRequest
from proxy.config import Config
from proxy.judgment.aider_edits import asks_for_edits
from proxy.storage.store import Store


@dataclass(frozen=True)
class Skip:
    reason: str  # as the "hermes" field's attempt says it
    rate: float  # the model's recent acceptance rate: the best skipped model is the fallback
    final: bool  # not tried as a fallback either, when the request can escalate


def agent_turn(chat: ChatRequest) -> bool:
    """Whether `chat` is an agent's turn: it offers tools, or asks for aider's edit formats."""
    return bool(chat.params.get("tools")) or asks_for_edits(chat.messages)


async def skip_for(store: Store, model: str, task_type: str, agent: bool, config: Config) -> Skip | None:
    """Why `model` sits this request out, or None to try it; `agent`: an agent's turn (`agent_turn`)."""
    cascade = config.routing.cascade
    if agent:
        passed, tries, skips = await store.tool_turn_record(model)
        if passed == 0 and skips + 1 < cascade.probe_every:
            record = f"none of its {tries}" if tries else "none so far"
            return Skip(f"an agent's turn: {model} has passed {record}; "
                        f"next probe in {cascade.probe_every - skips - 1} such requests", 0.0, final=True)
    outcomes, skips = await store.attempt_record(model, task_type, cascade.skip_window)
    if len(outcomes) < cascade.skip_window:
        return None
    rate = sum(outcomes) / len(outcomes)
    if rate >= cascade.skip_below_acceptance or skips + 1 >= cascade.probe_every:
        return None  # good enough, or due a probe to earn its way back
    return Skip(f"accepted {rate:.0%} of its last {len(outcomes)} {task_type} tries; "
                f"next probe in {cascade.probe_every - skips - 1} requests", rate, final=False)
