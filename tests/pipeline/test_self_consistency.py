"""Self-consistency over real HTTP: a short maths request answered again by the embedded model, and compared."""

from __future__ import annotations

from collections.abc import Callable

from proxy.config import Config
from proxy.localmodel.model import EmbeddedModel
from tests.edge.test_app import chat
from tests.edge.test_app_cascade import CHAT, Serve

MATHS = [{"role": "user", "content": "Maria buys 4 packs of 12 pencils and gives 9 away. How many pencils does "
                                     "she have left?"}]


def test_self_consistency_samples_a_short_maths_request_again_and_compares_the_answers(
    make_config: Callable[..., Config], serve_hermes: Serve, embedded_model: EmbeddedModel
) -> None:
    url = serve_hermes(make_config({"cascade": {"self_consistency_samples": 2}, "upgrade_policy": "never"}))
    calls = embedded_model.calls
    maths = chat(url, {"model": "auto", "messages": MATHS, "max_tokens": 48, "temperature": 0})
    after_maths = embedded_model.calls
    prose = chat(url, {"model": "auto", "messages": CHAT, "max_tokens": 16, "temperature": 0})

    assert maths.status_code == 200 and prose.status_code == 200
    assert after_maths == calls + 3  # the answer, then two more samples of it
    assert embedded_model.calls == after_maths + 1  # not a maths question: no extra sample
    signals = {s["name"]: s for s in maths.json()["hermes"]["quality"]["signals"]}
    assert "no other sample" not in signals["consistency"]["detail"]


def test_by_default_a_short_maths_request_is_sampled_once_more(
    make_config: Callable[..., Config], serve_hermes: Serve, embedded_model: EmbeddedModel
) -> None:
    url = serve_hermes(make_config({"upgrade_policy": "never"}))
    calls = embedded_model.calls
    maths = chat(url, {"model": "auto", "messages": MATHS, "max_tokens": 48, "temperature": 0})

    assert maths.status_code == 200
    assert embedded_model.calls == calls + 2  # the answer, and one more sample to compare it with
    signals = {s["name"]: s for s in maths.json()["hermes"]["quality"]["signals"]}
    assert "no other sample" not in signals["consistency"]["detail"]


def test_a_rule_can_turn_the_extra_sample_off_for_its_requests(
    make_config: Callable[..., Config], serve_hermes: Serve, embedded_model: EmbeddedModel
) -> None:
    rules = [{"name": "sums", "keywords": ["pencils"], "task_type": "quick_qa", "tier": "default",
              "self_consistency_samples": 0}]
    url = serve_hermes(make_config({"classification": {"rules": rules}, "upgrade_policy": "never"}))
    calls = embedded_model.calls
    maths = chat(url, {"model": "auto", "messages": MATHS, "max_tokens": 48, "temperature": 0})

    assert maths.status_code == 200
    assert embedded_model.calls == calls + 1  # the answer alone
    signals = {s["name"]: s for s in maths.json()["hermes"]["quality"]["signals"]}
    assert "no other sample" in signals["consistency"]["detail"]
