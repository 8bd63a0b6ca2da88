"""An upgrade that fails answers with the local answer it was to replace (proxy/pipeline/fallback.py), over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from proxy.config import Config
from tests.edge.test_app import sse_events, tasks
from tests.edge.test_app_cascade import Serve, auto
from tests.openrouter_stub import OpenRouterStub


@pytest.mark.parametrize("mode", ["error", "unavailable"])
def test_under_auto_a_failed_upgrade_answers_with_the_local_answer_it_would_have_replaced(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str,
    mode: str,
) -> None:
    # OpenRouter down, or out of credits: the upgrade is lost, not the answer the local model already gave.
    url = serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "auto"}))
    openrouter.mode = mode
    plain = auto(url, headers={"X-Session-Id": "a"})
    assert plain.status_code == 200, plain.text
    assert (plain.headers["x-hermes-route"], plain.headers["x-hermes-model"]) == ("local", "smollm2:135m")
    assert plain.headers["x-hermes-cost-usd"] == "0.000000"
    hermes = plain.json()["hermes"]
    assert hermes["cascade"]["attempts"][-1]["outcome"] == "rejected"
    assert re.fullmatch(r"policy auto: the upgrade to claude-3-opus failed \(5\d\d [a-z_]+: .+\), so the best "
                        r"local answer \(smollm2:135m, \d+\.\d\) instead", hermes["cascade"]["decision"]), \
        hermes["cascade"]["decision"]
    assert hermes["savings"] is None  # it meant to pay: nothing was saved
    assert plain.json()["choices"][0]["message"]["content"]

    streamed = auto(url, headers={"X-Session-Id": "b"}, stream=True)
    assert streamed.status_code == 200, streamed.text
    events = sse_events(streamed)
    assert events[-1] == "[DONE]" and events[-2]["hermes"]["route"] == "local"
    assert events[-2]["hermes"]["cascade"]["decision"].startswith("policy auto: the upgrade to claude-3-opus failed")
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1] if e["choices"])

    # Each request: its failed cloud call, recorded as such and free, then the local answer.
    rows = [(t["route"], t["status"], t["cost_usd"]) for t in tasks(database)]
    assert [(route, cost) for route, _, cost in rows] == [("cloud", 0.0), ("local", 0.0)] * 2
    assert [status >= 500 for _, status, _ in rows] == [True, False] * 2
