"""The optional judge: a local model grading an answer 1-10, MT-Bench style (quality.judge_model).

The scorer asks it only where its cheap signals are unsure (quality.judge_between);
its grade is then one more signal beside them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.errors import HermesError
from proxy.judgment.verdict import Verdict

JUDGE_PROMPT = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your "
    "evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, "
    'you must rate the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for '
    'example: "Rating: [[5]]".\n\n[Question]\n{question}\n\n[The Start of Assistant\'s Answer]\n{answer}\n'
    "[The End of Assistant's Answer]"
)
JUDGE_MAX_CHARS = 6000  # of question and answer each: small local judges have small contexts
RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]|Rating:\s*\[?\s*(\d+(?:\.\d+)?)")

Judge = Callable[[str], Awaitable[str]]  # a grading prompt in, the judge model's reply out


async def grade(task: str, text: str, calls: list[dict[str, Any]], judge: Judge | None) -> Verdict:
    """The judge's 1-10 grade of `text` (and its tool `calls`) as an answer to `task`, -1..+1; None when none."""
    if judge is None:
        return Verdict(None, "no judge asked: none configured (quality.judge_model), or the rule says judge: false")
    functions = [c.get("function") or {} for c in calls]
    shown = text + "".join(f"\n[tool call] {f.get('name')}({f.get('arguments')})" for f in functions)
    prompt = JUDGE_PROMPT.format(question=task[-JUDGE_MAX_CHARS:], answer=shown[:JUDGE_MAX_CHARS])
    try:
        reply = await judge(prompt)
    except HermesError as exc:
        return Verdict(None, f"the judge model failed: {exc}")
    match = RATING.search(reply)
    if not match:
        return Verdict(None, f"the judge's reply has no rating: {reply.strip()[:80]!r}")
    rating = min(10.0, max(1.0, float(match.group(1) or match.group(2))))
    return Verdict((rating - 5.5) / 4.5, f"the judge rated it {rating:g}/10", f"{rating:g}/10")
