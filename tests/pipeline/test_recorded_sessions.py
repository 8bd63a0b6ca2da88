"""Real agents' sessions, replayed over HTTP: each conversation is one session, however the agent rewrites it.

The recordings in tests/clients/sessions/ are the requests aider 0.86.2,
OpenCode 1.18.33 and Continue CLI 1.5.47 sent through Hermes on the
multi-turn task (`bench/agents.py --clients aider,opencode,continue --task
multi --model cloud --aider-tests --record tests/clients/sessions`): read
and fix greet.py and farewell.py, run the tests, answer. aider edits both in
one turn, its test command fails once, and it sends the traceback back as a
second turn after moving its file listing (with the files' new contents)
after the earlier turns and dropping the instructions it had appended to the
first message; OpenCode sends a title request and six tool turns, Continue
six tool turns (their arguments written out again). They are replayed in
order against the scripted cloud they were recorded with, so each answer
Hermes gives is the one the next recorded request carries back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.agents_clients import MULTI, ONE_FILE
from bench.agents_servers import Edit, ScriptedCloud, Served
from proxy.config import Config
from proxy.localmodel.embedded import free_port
from tests.conftest import REPO
from tests.postgres import query

SESSIONS = REPO / "tests" / "clients" / "sessions"


def recording(name: str) -> dict[str, Any]:
    return json.loads((SESSIONS / f"{name}.json").read_text())


@pytest.fixture
def cloud_for() -> Iterator[Callable[[dict[str, Any]], str]]:
    """The scripted cloud a recording was made with (its edit's path is in the answers), on loopback."""
    served: list[Served] = []

    def start(recorded: dict[str, Any]) -> str:
        task = MULTI if recorded["task"] == "multi" else ONE_FILE
        edits = [Edit(path, fix.old, fix.new, fix.before, fix.after)
                 for path, fix in zip(recorded["edit_paths"], task.fixes, strict=True)]
        served.append(Served(ScriptedCloud(edits, test_command=task.test_cmd).app, free_port()))
        return f"{served[-1].url}/api/v1"

    yield start
    for server in served:
        server.stop()


def replay(url: str, recorded: dict[str, Any], unnamed: bool = False) -> list[httpx.Response]:
    """Send each recorded request as the agent did (`unnamed`: without the session headers it sent)."""
    responses = []
    with httpx.Client(timeout=60) as client:
        for request in recorded["requests"]:
            headers = {k: v for k, v in request["headers"].items()
                       if not (unnamed and k.lower() in ("x-session-id", "x-session-affinity"))}
            response = client.post(f"{url}{request['path']}", json=request["body"], headers=headers)
            assert response.status_code == 200, response.text
            responses.append(response)
    return responses


def sessions(database: Path | str) -> list[dict[str, Any]]:
    """Each session's tasks, in order of their first task: (session id, [task rows])."""
    rows = query(database, "SELECT id, session_id, outcome, outcome_reason, cost_usd FROM tasks ORDER BY id")
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["session_id"], []).append(row)
    return [{"id": session, "tasks": tasks} for session, tasks in grouped.items()]


@pytest.mark.parametrize("agent", ["aider", "continue", "opencode"])
def test_each_recorded_agent_conversation_is_one_session_whose_cost_adds_up(
    agent: str, make_config: Callable[..., Config], serve_hermes: Callable[..., str], database: Path | str,
    cloud_for: Callable[[dict[str, Any]], str],
) -> None:
    recorded = recording(agent)
    url = serve_hermes(make_config(OPENROUTER_API_BASE=cloud_for(recorded)))
    # OpenCode names its session (x-session-affinity); unnamed, its turns must link by their answers all the same.
    replay(url, recorded, unnamed=True)
    found = sessions(database)
    conversation = found[-1]
    # OpenCode's title request is a conversation of its own; every turn of the agent's is in one session.
    assert [len(s["tasks"]) for s in found] == {"aider": [2], "continue": [6], "opencode": [1, 6]}[agent]
    [session] = query(database, "SELECT turns, cost_usd FROM sessions WHERE id = ?", (conversation["id"],))
    assert session["cost_usd"] == pytest.approx(sum(task["cost_usd"] for task in conversation["tasks"]))
    assert session["cost_usd"] > 0  # what the session cap counts: every turn's charge, in one place
    # Each answer but the last got the next turn's verdict.
    outcomes = [task["outcome"] for task in conversation["tasks"]]
    assert outcomes[-1] is None and None not in outcomes[:-1]


def test_aiders_failing_test_run_is_recorded_as_the_outcome_of_the_edit_before_it(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], database: Path | str,
    cloud_for: Callable[[dict[str, Any]], str],
) -> None:
    recorded = recording("aider")
    url = serve_hermes(make_config(OPENROUTER_API_BASE=cloud_for(recorded)))
    replay(url, recorded)
    [session] = sessions(database)
    edit, _ = session["tasks"]
    assert edit["outcome"] == "failed"
    assert edit["outcome_reason"] == "the tests run after it failed: Traceback (most recent call last):"


def test_two_conversations_alike_are_two_sessions(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], database: Path | str,
    cloud_for: Callable[[dict[str, Any]], str],
) -> None:
    # The same task twice: the same requests, the same answers. Each run is its own conversation.
    recorded = recording("continue")
    url = serve_hermes(make_config(OPENROUTER_API_BASE=cloud_for(recorded)))
    replay(url, recorded)
    replay(url, recorded)
    assert [len(s["tasks"]) for s in sessions(database)] == [6, 6]
    # And a different agent's conversation on the same Hermes is a third.
    aider = recording("aider")
    other = serve_hermes(make_config(OPENROUTER_API_BASE=cloud_for(aider)))
    replay(other, aider)
    assert [len(s["tasks"]) for s in sessions(database)] == [6, 6, 2]
