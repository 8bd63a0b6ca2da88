"""The next turn's verdict on the last answer: read from the conversation, recorded, and learned from."""

from __future__ import annotations

import importlib.util
import random
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import yaml

from proxy.config import ROUTING_FILE, Config
from proxy.judgment.outcome import CONTINUED, FAILED, next_turn_outcome
from proxy.judgment.quality import SIGNALS, Evidence
from tests.conftest import REPO
from tests.edge.test_app import chat
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query

Serve = Callable[..., str]
SYSTEM = ("Act as an expert software developer. Describe each change with a *SEARCH/REPLACE block*: the file path, "
          "then <<<<<<< SEARCH, the lines to find, =======, the lines to put instead, >>>>>>> REPLACE.")
FIX = [{"role": "system", "content": SYSTEM},
       {"role": "user", "content": "greet.py\n```\nprint('helo')\n```\nfix the typo in greet.py"}]
# What aider sends back when the answer's edit does not apply (aider/coders/base_coder.py).
AIDER_FAILED = ("The LLM did not conform to the edit format.\nhttps://aider.chat/docs/troubleshooting/edit-errors.html\n\n"
                "# 1 SEARCH/REPLACE block failed to match!")


def said(*messages: dict[str, object]) -> list[dict[str, object]]:
    return [{"role": "user", "content": "fix the typo in greet.py"}, {"role": "assistant", "content": "done"},
            *messages]


@pytest.mark.parametrize("after, verdict", [
    pytest.param([{"role": "user", "content": AIDER_FAILED}], FAILED, id="aider-edit-failed"),
    pytest.param([{"role": "tool", "tool_call_id": "1", "content": "Error: file not found: src/x.py"}], FAILED,
                 id="tool-error"),
    pytest.param([{"role": "tool", "tool_call_id": "1", "content": "===== 2 failed, 3 passed in 0.1s ====="}],
                 FAILED, id="tests-failed"),
    pytest.param([{"role": "user", "content": "Fix the typo in greet.py!"}], FAILED, id="asked-again"),
    pytest.param([{"role": "user", "content": "thanks, now add a test for it"}], CONTINUED, id="went-on"),
    pytest.param([{"role": "tool", "tool_call_id": "1", "content": "3 passed in 0.1s"}], CONTINUED, id="tests-pass"),
])
def test_the_next_turn_says_whether_the_answer_worked(after: list[dict[str, object]], verdict: str) -> None:
    outcome = next_turn_outcome(said(*after))
    assert outcome is not None and outcome.verdict == verdict, outcome


def test_a_first_turn_has_no_verdict_to_give() -> None:
    assert next_turn_outcome(FIX) is None
    assert next_turn_outcome(said()) is None  # the answer is the last message: nothing has followed it yet


def lenient(make_config: Callable[..., Config]) -> Config:
    """Every local answer is accepted (target 0, the `cheap` rule's too: "fix the typo" and aider's
    "edit format" both classify as it), and one failed try is enough for the model to be skipped."""
    classification = yaml.safe_load((REPO / ROUTING_FILE).read_text())["classification"]
    for rule in classification["rules"]:
        if rule.get("target_quality") is not None:
            rule["target_quality"] = 0
    return make_config(routing={"upgrade_policy": "never", "classification": classification, "cascade": {
        "target_quality": 0, "skip_window": 1, "skip_below_acceptance": 0.5}})


def local_tries(response: httpx.Response) -> list[dict[str, object]]:
    assert response.status_code == 200, response.text
    attempts = response.json()["hermes"]["cascade"]["attempts"]
    return [a for a in attempts if a["outcome"] != "unavailable"]


def test_an_aider_edit_that_failed_is_recorded_and_the_retry_sees_the_model_lose_its_record(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str
) -> None:
    config = lenient(make_config)
    url = serve_hermes(config)
    first = chat(url, {"model": "auto", "messages": FIX, "max_tokens": 24})
    [tried] = local_tries(first)
    assert tried["outcome"] == "accepted"
    answer = first.json()["choices"][0]["message"]
    retry = chat(url, {"model": "auto", "max_tokens": 24,
                       "messages": [*FIX, {"role": "assistant", "content": answer["content"]},
                                    {"role": "user", "content": AIDER_FAILED}]})
    assert retry.json()["hermes"]["session"]["id"] == first.json()["hermes"]["session"]["id"]
    # The accepted try now counts as failed: the model is skipped, then tried anyway (nothing else is local).
    outcomes = [a["outcome"] for a in local_tries(retry)]
    assert outcomes[0] == "skipped" and "accepted 0% of its last 1" in local_tries(retry)[0]["detail"]
    [failed] = query(database, "SELECT outcome, outcome_reason FROM tasks ORDER BY id LIMIT 1")
    assert failed["outcome"] == FAILED and "did not conform to the edit format" in failed["outcome_reason"]
    [attempt] = query(database, "SELECT accepted, outcome_reason FROM local_attempts ORDER BY id LIMIT 1")
    assert attempt["accepted"] == 0 and "edit did not apply" in attempt["outcome_reason"]
    latest = httpx.get(f"{url}/api/v1/monitoring/dashboard", timeout=30).json()["latest"]
    shown = {row["id"]: row for row in latest}
    assert shown[min(shown)]["outcome"] == FAILED  # the dashboard marks the first answer "failed next turn"
    assert openrouter.requests == []  # policy never: nothing went to the cloud
    # The scorer's calibration can learn from it: the failed answer, with the value of each of its signals.
    evidence, labels = calibrate().recorded_outcomes(str(database))
    assert labels == [0.0] and [e.name for e in evidence[0]] == list(SIGNALS)


def calibrate() -> ModuleType:
    """evals/calibrate.py, a script rather than a package module."""
    spec = importlib.util.spec_from_file_location("calibrate", REPO / "evals" / "calibrate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_answers_that_failed_next_turn_lower_the_weight_of_the_signal_that_vouched_for_them() -> None:
    module = calibrate()
    # Forty tool calls that validated, and whose next turn failed all the same.
    vouched = [tuple(Evidence(name, 1.0 if name == "tool_call" else None, "") for name in SIGNALS)] * 40
    prior = module.prior_means()
    frozen = module.np.array([True] + [False] * len(module.columns()))
    failed = module.np.zeros(len(vouched))
    refitted = module.fit(module.design_matrix(vouched), failed, frozen=frozen, start=prior, prior=prior)
    column = 1 + module.columns().index(("tool_call", "pass"))
    assert refitted[column] < prior[column] / 2
    assert refitted[0] == prior[0]  # the intercept is held: the score's scale stays


def test_a_conversation_that_goes_on_keeps_the_models_record(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str
) -> None:
    url = serve_hermes(lenient(make_config))
    first = chat(url, {"model": "auto", "messages": FIX, "max_tokens": 24})
    answer = first.json()["choices"][0]["message"]
    then = chat(url, {"model": "auto", "max_tokens": 24, "messages": [
        *FIX, {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": "thanks; please also add a comment to greet.py"}]})
    assert [a["outcome"] for a in local_tries(then)] == ["accepted"]
    rows = query(database, "SELECT outcome FROM tasks ORDER BY id")
    assert [row["outcome"] for row in rows] == [CONTINUED, None]  # the newest has had no next turn yet


# The checks as they were first written, one alternation each: what they find, the faster ones must find.
ONE_PATTERN_EDIT = re.compile(
    r"did not conform to the edit format|SEARCH/REPLACE blocks? failed to match|SearchReplaceNoExactMatch"
    r"|The SEARCH section must exactly match|malformed (?:edit|diff)|Unable to (?:apply|parse) (?:the )?(?:edit|diff)",
    re.IGNORECASE)
ONE_PATTERN_RUN = re.compile(
    r"Traceback \(most recent call last\)|^\s*(?:Error|error|ERROR)\b[:\s]|\b\d+ failed\b|^FAILED\b|AssertionError"
    r"|exit(?:ed)? (?:with )?(?:code|status) [1-9]|command not found|No such file or directory|SyntaxError",
    re.MULTILINE)
MARKERS = ["Traceback (most recent call last):", "Error: no such thing", "  error: bad", "ERROR\n", "x Error: mid-line",
           "errors: 3", "== 2 failed, 1 passed ==", "x2 failed", "12 failed.", "7 failedly", "FAILED tests/a.py::b",
           " FAILED", "AssertionError", "exited with code 2", "exit status 0", "exit code 1", "command not found",
           "No such file or directory", "SyntaxError: bad", "did not conform to the edit format",
           "# 2 SEARCH/REPLACE blocks failed to match!", "searchreplacenoexactmatch", "MALFORMED DIFF",
           "Unable to apply the edit", "unable to parse diff", "İstanbul", "failed", "ran fine"]


def test_the_fast_checks_find_what_the_one_pattern_checks_found() -> None:
    rng = random.Random(7)
    code = (Path(__file__).read_text() + "\n") * 3
    for _ in range(400):
        parts = [rng.choice(MARKERS) if rng.random() < 0.5 else code[(i := rng.randrange(len(code))):i + 200]
                 for _ in range(rng.randint(1, 4))]
        text = rng.choice(["\n", " ", ""]).join(parts)
        for role, pattern in (("user", ONE_PATTERN_EDIT), ("tool", ONE_PATTERN_RUN)):
            outcome = next_turn_outcome(said({"role": role, "tool_call_id": "1", "content": text}))
            assert outcome is not None
            assert (outcome.verdict == FAILED) == bool(pattern.search(text)) or (
                role == "user" and outcome.reason == "the user asked the same thing again"), (role, text)
