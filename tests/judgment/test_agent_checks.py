"""Agent turns' tool calls, judged against requests recorded from OpenCode and Continue (tests/clients/).

Each test takes a real request, adds the turns an agent would have had, and answers it:
a tool call the client can run, and a broken twin of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.judgment.agent_checks import tool_call_verdict
from proxy.judgment.verdict import Verdict

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
GREET = "/tmp/proj-oc/greet.py"
TYPO = '    print(f"Helo, {name}!")'
FIXED = '    print(f"Hello, {name}!")'


def recorded(name: str) -> dict[str, Any]:
    """One recorded request body, read afresh so a test can append turns to it."""
    return json.loads((CLIENTS / f"{name}.json").read_text())["body"]


def call(name: str, call_id: str = "call_1", **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def agent_step(body: dict[str, Any], step: dict[str, Any], result: str) -> None:
    """The model made `step`, and OpenCode sent its result back."""
    body["messages"].append({"role": "assistant", "content": None, "tool_calls": [step]})
    body["messages"].append({"role": "tool", "tool_call_id": step["id"], "content": result})


def opencode_read_output(path: str, lines: list[str]) -> str:
    """What OpenCode 1.18's read tool returns (the same shape as its attached-file part)."""
    numbered = "\n".join(f"{i}: {line}" for i, line in enumerate(lines, 1))
    end = f"(End of file - total {len(lines)} lines)"
    return f"<path>{path}</path>\n<type>file</type>\n<content>\n{numbered}\n\n{end}\n</content>"


def judge(body: dict[str, Any], *calls: dict[str, Any]) -> Verdict:
    return tool_call_verdict(body["messages"], list(calls), body["tools"])


GREET_LINES = ["def greet(name):", '    """Say hello."""', TYPO, "", "",
               'if __name__ == "__main__":', '    greet("world")']  # greet.py as the fixtures carry it


# tool_call: the checks the scorer has always made


def test_no_tool_calls_does_not_apply() -> None:
    assert tool_call_verdict([], [], None).value is None


def test_a_tool_that_is_not_offered_names_what_is() -> None:
    body = recorded("opencode-fix-typo")
    body["tools"] = [t for t in body["tools"] if t["function"]["name"] in ("bash", "read")]

    verdict = judge(body, call("read_file", path="greet.py"))

    assert verdict.value == -1.0
    assert verdict.detail == "tool call 1 names 'read_file', which is not offered (bash, read)"


def test_arguments_that_are_not_json_fail() -> None:
    broken = {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": "{'command': 'ls'}"}}

    assert "not valid JSON" in judge(recorded("opencode-fix-typo"), broken).detail


def test_arguments_are_checked_against_the_offered_schema() -> None:
    verdict = judge(recorded("opencode-fix-typo"), call("read", filePath=GREET, offset=-1))

    assert verdict.detail == "tool call 1 (read) arguments fail the schema at offset: -1 is less than the minimum of 0"


def test_half_the_calls_bad_scores_minus_a_half() -> None:
    verdict = judge(recorded("opencode-fix-typo"), call("read", filePath=GREET), call("bash", "call_2"))

    assert (verdict.value, verdict.brief) == (-0.5, "1/2 calls")
    assert "'command' is a required property" in verdict.detail


# tool_call: paths must come from the conversation


def test_reading_the_file_the_user_named_passes_though_the_path_is_absolute() -> None:
    verdict = judge(recorded("opencode-fix-typo"), call("read", filePath=GREET))

    assert (verdict.value, verdict.detail) == (1.0, "1 tool call(s) valid")


def test_continue_reading_the_named_file_by_its_relative_path_passes() -> None:
    assert judge(recorded("continue-fix-typo"), call("Read", filepath="greet.py")).value == 1.0


def test_reading_a_file_nobody_mentioned_is_a_guess() -> None:
    verdict = judge(recorded("continue-fix-typo"), call("Read", filepath="/tmp/proj-cn/parse.py"))

    assert verdict.value == -1.0
    assert verdict.detail == "tool call 1 (Read) names '/tmp/proj-cn/parse.py', a path the conversation never mentions"


def test_editing_a_file_nobody_mentioned_is_a_guess() -> None:
    step = call("edit", filePath="/tmp/proj-oc/utils.py", oldString="def greet", newString="def hello")

    assert judge(recorded("opencode-fix-typo"), step).value == -1.0


def test_listing_the_working_directory_passes() -> None:
    assert judge(recorded("continue-fix-typo"), call("List", dirpath="/tmp/proj-cn")).value == 1.0


def test_a_file_named_for_a_word_the_user_used_is_a_fair_guess() -> None:
    body = recorded("opencode-fix-typo")
    body["messages"][-1]["content"] = "Fix the off-by-one error in the pager."

    assert judge(body, call("read", filePath="/tmp/proj-oc/pager.py")).value == 1.0


def test_reading_the_directory_of_a_mentioned_file_passes() -> None:
    body = recorded("opencode-fix-typo")
    body["messages"][-1]["content"] = "what does src/app.py do?"

    assert judge(body, call("read", filePath="/tmp/proj-oc/src")).value == 1.0


@pytest.mark.parametrize("step", [
    pytest.param(call("glob", pattern="**/*.py", path="/tmp/proj-oc/lib"), id="searching-an-unknown-directory"),
    pytest.param(call("write", filePath="/tmp/proj-oc/test_greet.py", content="import greet\n"), id="a-new-file"),
    pytest.param(call("edit", filePath="/tmp/proj-oc/notes.md", oldString="", newString="# Notes\n"),
                 id="an-edit-that-creates-a-file"),
    pytest.param(call("read", filePath="/tmp/proj-oc/README.md"), id="a-well-known-file"),
])
def test_looking_around_and_making_new_files_is_never_a_guess(step: dict[str, Any]) -> None:
    assert judge(recorded("opencode-fix-typo"), step).value == 1.0


# tool_call: an edit's old text must be in the file as the conversation shows it


def test_an_edit_of_text_in_the_attached_file_passes() -> None:
    step = call("edit", filePath=GREET, oldString=TYPO, newString=FIXED)

    assert judge(recorded("opencode-fix-typo-attached-file"), step).value == 1.0


def test_an_edit_of_text_the_attached_file_does_not_have_fails() -> None:
    step = call("edit", filePath=GREET, oldString='print("Helo world")', newString='print("Hello world")')

    verdict = judge(recorded("opencode-fix-typo-attached-file"), step)

    assert verdict.value == -1.0
    assert verdict.detail == f"tool call 1 (edit) oldString is not in {GREET} as the conversation shows it"


def test_an_edit_with_other_whitespace_passes_as_opencode_forgives_it() -> None:
    step = call("edit", filePath=GREET, oldString='print(f"Helo, {name}!")\n\n\nif __name__ == "__main__":',
                newString='print(f"Hello, {name}!")\n\n\nif __name__ == "__main__":')

    assert judge(recorded("opencode-fix-typo-attached-file"), step).value == 1.0


def test_an_edit_of_a_file_the_conversation_has_not_shown_is_not_judged_by_its_text() -> None:
    step = call("edit", filePath=GREET, oldString="anything at all", newString="x")

    assert judge(recorded("opencode-fix-typo"), step).value == 1.0


def test_an_edit_after_the_model_read_the_file_is_checked_against_what_it_read() -> None:
    body = recorded("opencode-fix-typo")
    agent_step(body, call("read", "call_0", filePath=GREET), opencode_read_output(GREET, GREET_LINES))

    assert judge(body, call("edit", filePath=GREET, oldString=TYPO, newString=FIXED)).value == 1.0
    assert judge(body, call("edit", filePath=GREET, oldString="print(name)", newString="x")).value == -1.0


def test_continue_read_results_count_as_the_file_shown() -> None:
    body = recorded("continue-fix-typo")
    agent_step(body, call("Read", "call_0", filepath="greet.py"), "\n".join(GREET_LINES))

    step = call("Edit", file_path="greet.py", old_string="print(f'Helo')", new_string="print(f'Hello')")
    body["tools"].append({"type": "function", "function": {"name": "Edit", "parameters": {"type": "object"}}})

    assert judge(body, step).detail == "tool call 1 (Edit) old_string is not in greet.py as the conversation shows it"


def test_a_file_attached_in_continue_context_counts_as_shown() -> None:
    body = recorded("continue-fix-typo")
    body["messages"][-1]["content"] = '<context name="greet.py">\n' + "\n".join(GREET_LINES) + "\n</context>\nfix it"
    body["tools"].append({"type": "function", "function": {"name": "Edit", "parameters": {"type": "object"}}})

    assert judge(body, call("Edit", file_path="greet.py", old_string="Helo,", new_string="Hello,")).value == 1.0
    assert judge(body, call("Edit", file_path="greet.py", old_string="Helo!", new_string="Hello!")).value == -1.0


def test_an_earlier_edit_changes_the_file_the_next_one_is_checked_against() -> None:
    body = recorded("opencode-fix-typo-attached-file")
    agent_step(body, call("edit", "call_0", filePath=GREET, oldString="Helo", newString="Hello"),
               "Edit applied successfully.")

    assert judge(body, call("edit", filePath=GREET, oldString="Helo,", newString="Hi,")).value == -1.0
    assert judge(body, call("edit", filePath=GREET, oldString="Hello,", newString="Hi,")).value == 1.0


def test_two_edits_in_one_answer_apply_in_order() -> None:
    first = call("edit", "call_1", filePath=GREET, oldString="Helo", newString="Hello")
    second = call("edit", "call_2", filePath=GREET, oldString='"Hello, {name}!"', newString='"Hi, {name}!"')

    assert judge(recorded("opencode-fix-typo-attached-file"), first, second).value == 1.0


def test_after_a_shell_command_touches_the_file_its_text_is_no_longer_known() -> None:
    body = recorded("opencode-fix-typo-attached-file")
    agent_step(body, call("bash", "call_0", command="sed -i s/Helo/Hello/ greet.py"), "")

    assert judge(body, call("edit", filePath=GREET, oldString="Hello, {name}", newString="Hi")).value == 1.0


# tool_call: repeating a call whose result came back


def test_reading_the_same_file_again_is_a_loop() -> None:
    body = recorded("opencode-fix-typo")
    agent_step(body, call("read", "call_0", filePath=GREET), opencode_read_output(GREET, GREET_LINES))

    verdict = judge(body, call("read", filePath=GREET))

    assert verdict.value == -1.0
    assert verdict.detail == ('tool call 1 (read) repeats an earlier call, {"filePath": "/tmp/proj-oc/greet.py"}, '
                              "whose result already came back")


def test_reading_a_file_again_after_editing_it_is_not_a_loop() -> None:
    body = recorded("opencode-fix-typo")
    agent_step(body, call("read", "call_0", filePath=GREET), opencode_read_output(GREET, GREET_LINES))
    agent_step(body, call("edit", "call_1", filePath=GREET, oldString="Helo", newString="Hello"), "Edit applied.")

    assert judge(body, call("read", "call_2", filePath=GREET)).value == 1.0


def test_the_same_call_with_other_arguments_is_not_a_loop() -> None:
    body = recorded("opencode-fix-typo")
    agent_step(body, call("read", "call_0", filePath=GREET, limit=2), opencode_read_output(GREET, GREET_LINES[:2]))

    assert judge(body, call("read", filePath=GREET)).value == 1.0


def test_retrying_a_call_that_timed_out_is_not_a_loop() -> None:
    body = recorded("opencode-fix-typo")
    agent_step(body, call("bash", "call_0", command="python greet.py"), "Command timed out after 120000 ms")

    assert judge(body, call("bash", command="python greet.py")).value == 1.0


def test_a_new_user_message_starts_a_new_turn() -> None:
    body = recorded("opencode-fix-typo")
    agent_step(body, call("bash", "call_0", command="python greet.py"), "Hello, world!")
    body["messages"].append({"role": "user", "content": "run it again"})

    assert judge(body, call("bash", command="python greet.py")).value == 1.0


def test_odd_shapes_in_the_history_are_not_held_against_the_answer() -> None:
    body = recorded("opencode-fix-typo")
    body["messages"] += [{"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}],
                          "tool_calls": ["not a call", {"id": "c9", "function": {"name": "bash", "arguments": "{"}}]},
                         {"role": "tool", "tool_call_id": "c9", "content": [{"type": "text", "text": "ok"}]}]

    assert judge(body, call("read", filePath=GREET)).value == 1.0

