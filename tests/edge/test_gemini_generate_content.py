"""Gemini's generateContent, with Google's `google-genai` SDK as the client, as Gemini CLI is.

A real `hermes serve` in a thread, the embedded model behind Ollama's protocol, and the OpenRouter stub.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors, types

from proxy.config import Config
from tests.conftest import TEST_API_KEY
from tests.edge.test_app import tasks
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub

READ = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="read_file", description="Read a file.",
    parameters_json_schema={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})])
NO_AUTO_CALLS = types.AutomaticFunctionCallingConfig(disable=True)


CLIENTS: list[genai.Client] = []  # google-genai closes its HTTP client when a Client is collected


def client(url: str, key: str = "unused", api_version: str = "v1beta") -> genai.Client:
    """Google's SDK pointed at Hermes, as Gemini CLI points it (GOOGLE_GEMINI_BASE_URL, v1beta)."""
    made = genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=url, api_version=api_version, timeout=120_000, retry_options=types.HttpRetryOptions(attempts=1)))
    CLIENTS.append(made)
    return made


def sse(url: str, model: str, body: dict[str, object]) -> list[dict[str, object]]:
    with httpx.stream("POST", f"{url}/v1beta/models/{model}:streamGenerateContent?alt=sse", json=body,
                      timeout=120) as response:
        assert response.status_code == 200, response.read()
        text = response.read().decode()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_a_local_answer_is_a_gemini_response_free_and_recorded(hermes_url: str, database: Path | str) -> None:
    response = client(hermes_url).models.generate_content(
        model="local", contents="Say hi.", config=types.GenerateContentConfig(max_output_tokens=16))

    assert response.text and response.text.strip()
    assert response.candidates and response.candidates[0].finish_reason in (types.FinishReason.STOP,
                                                                            types.FinishReason.MAX_TOKENS)
    assert response.usage_metadata and response.usage_metadata.candidates_token_count
    assert response.sdk_http_response.headers["x-hermes-route"] == "local"
    [task] = tasks(database)
    assert (task["route"], task["cost_usd"], task["status"]) == ("local", 0.0, 200)


def test_a_streamed_answer_ends_with_the_usage_and_the_verdict(hermes_url: str) -> None:
    chunks = sse(hermes_url, "local", {"contents": [{"role": "user", "parts": [{"text": "Say hi."}]}],
                                       "generationConfig": {"maxOutputTokens": 16}})

    assert "".join(part.get("text", "") for chunk in chunks
                   for part in chunk["candidates"][0]["content"]["parts"]).strip()  # type: ignore[index]
    assert chunks[-1]["candidates"][0]["finishReason"] in ("STOP", "MAX_TOKENS")  # type: ignore[index]
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] > 0  # type: ignore[index]
    assert chunks[-1]["hermes"]["route"] == "local"  # type: ignore[index]
    assert all("hermes" not in chunk for chunk in chunks[:-1])


def test_the_sdk_streams_an_auto_answer_through_the_cascades_comment_lines(hermes_url: str) -> None:
    pieces = list(client(hermes_url).models.generate_content_stream(
        model="auto", contents="Say hi.", config=types.GenerateContentConfig(max_output_tokens=16)))

    assert "".join(piece.text or "" for piece in pieces).strip()


def test_gemini_clis_model_names_map_through_the_aliases(hermes_url: str, openrouter: OpenRouterStub) -> None:
    response = client(hermes_url).models.generate_content(model="gemini-2.5-flash-lite", contents="Say hi.")

    assert response.sdk_http_response.headers["x-hermes-route"] == "local"
    assert openrouter.requests == []


def test_a_cloud_answer_is_charged_what_openrouter_billed(hermes_url: str, openrouter: OpenRouterStub,
                                                           database: Path | str) -> None:
    response = client(hermes_url).models.generate_content(
        model="cloud", contents="Say hi.", config=types.GenerateContentConfig(system_instruction="Be brief."))

    assert response.text and response.text.startswith("Hello from ")
    assert response.usage_metadata and (response.usage_metadata.prompt_token_count,
                                        response.usage_metadata.candidates_token_count) == (12, 7)
    [task] = tasks(database)
    assert task["cost_usd"] == pytest.approx(COST_PER_CALL_USD)
    assert openrouter.requests[0]["json"]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_a_function_call_round_trip_stays_in_one_session(hermes_url: str, openrouter: OpenRouterStub) -> None:
    models = client(hermes_url).models
    config = types.GenerateContentConfig(tools=[READ], automatic_function_calling=NO_AUTO_CALLS)
    ask = types.Content(role="user", parts=[types.Part(text="What is in README.md?")])
    first = models.generate_content(model="cloud", contents=[ask], config=config)
    [call] = first.function_calls or []
    assert (call.name, call.args) == ("read_file", {"path": "README.md"})

    answer = types.Part.from_function_response(name="read_file", response={"content": "# Hermes"})
    second = models.generate_content(
        model="cloud", config=config,
        contents=[ask, first.candidates[0].content, types.Content(role="user", parts=[answer])])  # type: ignore[index, list-item]

    assert (second.sdk_http_response.headers["x-hermes-session-id"]
            == first.sdk_http_response.headers["x-hermes-session-id"])
    sent = openrouter.requests[1]["json"]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "read_file"
    assert sent[2]["role"] == "tool" and "# Hermes" in sent[2]["content"]


def test_gemini_clis_router_call_asks_for_json(hermes_url: str, openrouter: OpenRouterStub) -> None:
    config = types.GenerateContentConfig(response_mime_type="application/json",
                                         response_json_schema={"type": "object"})
    client(hermes_url).models.generate_content(model="cloud", contents="Route this.", config=config)

    assert openrouter.requests[0]["json"]["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({}, "contents", id="no-contents"),
    pytest.param({"contents": [{"role": "robot", "parts": [{"text": "x"}]}]}, "contents[0].role", id="bad-role"),
    pytest.param({"contents": [{"parts": []}]}, "contents[0].parts", id="no-parts"),
    pytest.param({"contents": [{"parts": [{"text": 1}]}]}, "contents[0].parts[0].text", id="text-not-a-string"),
    pytest.param({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}},
                 "generationConfig.temperature", id="temperature-not-a-number"),
    pytest.param({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{}]}]},
                 "tools[0].functionDeclarations", id="declaration-without-name"),
])
def test_bad_input_is_a_400_in_googles_shape_naming_the_field(
    hermes_url: str, database: Path | str, openrouter: OpenRouterStub, body: dict[str, object], field: str
) -> None:
    response = httpx.post(f"{hermes_url}/v1beta/models/local:generateContent", json=body, timeout=30)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT") and f"'{field}" in error["message"]
    assert openrouter.requests == []
    assert all(task["cost_usd"] == 0 for task in tasks(database))


def test_an_unknown_model_is_a_404_the_sdk_raises(hermes_url: str) -> None:
    with pytest.raises(errors.ClientError) as raised:
        client(hermes_url).models.generate_content(model="no-such-model", contents="hi")

    assert raised.value.code == 404 and raised.value.status == "NOT_FOUND"


def test_streaming_without_alt_sse_is_refused_saying_so(hermes_url: str) -> None:
    response = httpx.post(f"{hermes_url}/v1beta/models/local:streamGenerateContent",
                          json={"contents": [{"parts": [{"text": "hi"}]}]}, timeout=30)

    assert response.status_code == 400 and "alt=sse" in response.json()["error"]["message"]


def test_a_failure_mid_stream_is_an_error_event(hermes_url: str, openrouter: OpenRouterStub,
                                                database: Path | str) -> None:
    openrouter.mode = "cut"
    chunks = sse(hermes_url, "cloud", {"contents": [{"parts": [{"text": "Say hi."}]}]})

    assert chunks[-1]["error"]["status"] == "UNAVAILABLE"  # type: ignore[index]
    [task] = tasks(database)
    assert task["status"] == 502


def test_the_key_is_taken_from_x_goog_api_key(make_config: Callable[..., Config],
                                              serve_hermes: Callable[[Config], str]) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY=TEST_API_KEY))

    assert client(url, key=TEST_API_KEY).models.generate_content(model="local", contents="hi").text
    with pytest.raises(errors.ClientError) as raised:
        client(url, key="wrong").models.generate_content(model="local", contents="hi")
    assert raised.value.code == 401 and raised.value.status == "UNAUTHENTICATED"


def test_count_tokens_counts_the_whole_request(hermes_url: str) -> None:
    short = client(hermes_url).models.count_tokens(model="auto", contents="Say hi.")
    longer = client(hermes_url).models.count_tokens(model="auto", contents="Say hi. " * 40)

    assert short.total_tokens and longer.total_tokens and 0 < short.total_tokens < longer.total_tokens


def test_the_sdks_default_v1_api_is_served_too(hermes_url: str) -> None:
    response = client(hermes_url, api_version="v1").models.generate_content(model="local", contents="Say hi.")

    assert response.text and response.sdk_http_response.headers["x-hermes-route"] == "local"
    # and the OpenAI model card still answers a GET on the same path
    assert httpx.get(f"{hermes_url}/v1/models/local", timeout=10).json()["id"] == "local"


def test_the_key_is_taken_from_the_query_as_googles_rest_examples_send_it(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY=TEST_API_KEY))
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 4}}

    assert httpx.post(f"{url}/v1beta/models/local:generateContent?key={TEST_API_KEY}", json=body,
                      timeout=60).status_code == 200
    refused = httpx.post(f"{url}/v1beta/models/local:generateContent?key=wrong", json=body, timeout=60)
    assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"
