"""Self-consistency: more answers from the same free local model to a short maths request.

Checks of the working cannot tell a right answer from one that solved another
problem with every sum right; a second sample can. On GSM8K's real answers,
an answer whose final number agrees with a second sample's is right 90% of the
time, one that disagrees 19% (evals/gsm8k_labelled.jsonl). quality.py's
consistency signal compares them. Each sample is one more local generation,
so only short maths requests get one (cascade.self_consistency_samples and
_max_prompt_tokens, or a rule's own `self_consistency_samples`).
"""

from __future__ import annotations

import dataclasses

from proxy.chat import ChatRequest
from proxy.errors import HermesError
from proxy.judgment import maths
from proxy.judgment.quality import content_text, task_text
from proxy.pipeline import local_attempt
from proxy.pipeline.local_attempt import LocalSpeeds, Progress
from proxy.upstreams.target import Target

TEMPERATURE = 0.7  # extra samples must be free to differ: at temperature 0 (aider's) they would repeat the first


async def samples(target: Target, chat: ChatRequest, count: int, prompt_tokens: int, max_prompt_tokens: int,
                  deadline_s: float | None, speeds: LocalSpeeds, progress: Progress) -> tuple[str, ...]:
    """Up to `count` more answers' texts, for a short maths request without tools; none for anything else.

    A sample that fails or runs out of time ends the sampling, never the request.
    """
    if (not count or prompt_tokens > max_prompt_tokens or chat.params.get("tools")
            or not maths.is_maths_task(task_text(chat.messages))):
        return ()
    sampled = dataclasses.replace(chat, params=chat.params | {"temperature": TEMPERATURE})
    found = []
    for number in range(1, count + 1):
        progress(f"{target.model.name} sampling again ({number}/{count})")
        try:
            answer = await local_attempt.generate(target, sampled, prompt_tokens, deadline_s, speeds, progress)
        except HermesError:
            break
        found.append(content_text(answer["choices"][0]["message"].get("content")))
    return tuple(found)
