"""Over real HTTP: the cascade asks the embedded model for its tokens' log-probabilities and scores with them."""

from __future__ import annotations

from collections.abc import Callable

from proxy.config import Config
from tests.edge.test_app import chat
from tests.edge.test_app_cascade import Serve


def ask(url: str, question: str):  # type: ignore[no-untyped-def]
    return chat(url, {"model": "auto", "messages": [{"role": "user", "content": question}], "max_tokens": 24,
                      "temperature": 0})


def test_a_local_answer_is_scored_by_its_models_certainty_which_the_client_does_not_get_unasked(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    url = serve_hermes(make_config({"upgrade_policy": "never"}))
    known = ask(url, "What is the capital of Japan?")  # SmolLM2-135M: "... is Tokyo.", every token sure
    made_up = ask(url, "What is the capital of Burkina Faso?")  # "... is Kouilé.", hesitating over the name

    assert known.status_code == 200 and made_up.status_code == 200
    sure, unsure = ({s["name"]: s for s in r.json()["hermes"]["quality"]["signals"]}["confidence"]
                    for r in (known, made_up))
    assert "mean log-probability" in sure["detail"] and sure["value"] is not None
    assert sure["value"] > unsure["value"]
    assert known.json()["hermes"]["quality"]["score"] > made_up.json()["hermes"]["quality"]["score"]
    assert known.json()["choices"][0].get("logprobs") is None  # the client did not ask for them
