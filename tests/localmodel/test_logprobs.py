"""The embedded model gives each token's log-probability when asked, in Ollama's shape (`logprobs`, 0.12.11)."""

from __future__ import annotations

import json

import httpx
import pytest

from proxy.localmodel.model import EmbeddedModel

MODEL = "smollm2:135m"
QUESTION = [{"role": "user", "content": "What is the capital of Japan?"}]
GREEDY = {"model": MODEL, "messages": QUESTION, "logprobs": True, "top_logprobs": 3,
          "options": {"temperature": 0, "num_predict": 24}}


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=120)


def test_every_token_of_a_whole_answer_has_its_log_probability_and_alternatives(ollama_url: str) -> None:
    answer = post(ollama_url, "/api/chat", GREEDY | {"stream": False}).json()
    entries, content = answer["logprobs"], answer["message"]["content"]
    tokens = "".join(entry["token"] for entry in entries)
    if answer["done_reason"] == "stop":
        assert tokens == content and len(entries) == answer["eval_count"]
    else:  # cut off by num_predict: the last token's probability is never computed
        assert content.startswith(tokens) and len(entries) == answer["eval_count"] - 1
    for entry in entries:
        assert entry["logprob"] <= 0 and bytes(entry["bytes"]).decode() == entry["token"]
        alternatives = [a["logprob"] for a in entry["top_logprobs"]]
        assert len(alternatives) == 3 and alternatives == sorted(alternatives, reverse=True)
        # Greedy decoding takes the likeliest token: it heads its own list, so each entry belongs to its token.
        assert entry["top_logprobs"][0]["token"] == entry["token"]
        assert entry["top_logprobs"][0]["logprob"] == entry["logprob"]


def test_a_streamed_answer_carries_each_lines_own_tokens(ollama_url: str) -> None:
    lines = [json.loads(line) for line in post(ollama_url, "/api/chat", GREEDY).text.splitlines()]
    *pieces, final = lines
    assert final["done"] and pieces
    for line in pieces:
        assert "".join(e["token"] for e in line["logprobs"]) == line["message"]["content"]
    whole = post(ollama_url, "/api/chat", GREEDY | {"stream": False}).json()
    assert [e["logprob"] for line in pieces for e in line["logprobs"]] == [e["logprob"] for e in whole["logprobs"]]


def test_raw_generation_gives_them_too_and_nothing_is_sent_unasked(ollama_url: str) -> None:
    body = {"model": MODEL, "prompt": "def add(a, b):", "raw": True, "stream": False, "logprobs": True,
            "options": {"temperature": 0, "num_predict": 6}}
    answer = post(ollama_url, "/api/generate", body).json()
    assert answer["response"].startswith("".join(e["token"] for e in answer["logprobs"]))
    assert all("top_logprobs" not in e for e in answer["logprobs"])  # top_logprobs 0: none listed
    plain = post(ollama_url, "/api/chat", {k: v for k, v in GREEDY.items() if "logprobs" not in k} | {"stream": False})
    assert "logprobs" not in plain.json()


@pytest.mark.parametrize("field", [{"logprobs": "yes"}, {"top_logprobs": 21}, {"top_logprobs": -1},
                                   {"top_logprobs": "5"}, {"top_logprobs": True}])
def test_a_bad_logprobs_field_is_refused_before_generating(ollama_url: str, embedded_model: EmbeddedModel,
                                                           field: dict) -> None:
    calls = embedded_model.calls
    response = post(ollama_url, "/api/chat", GREEDY | field)
    assert response.status_code == 400 and "logprobs" in response.json()["error"]
    assert embedded_model.calls == calls
