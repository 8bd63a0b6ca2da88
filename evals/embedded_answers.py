"""The embedded model's own answer to one request, as the labelled-set builders (make_*_set.py) collect them."""

from __future__ import annotations

from typing import Any


def ask(model: Any, request: str, sampling: dict[str, Any], max_tokens: int) -> tuple[str, str]:
    """(the answer's text, its finish reason) from `model` (an EmbeddedModel) to one user message."""
    from proxy.localmodel.model import Finished

    pieces = list(model.chat([{"role": "user", "content": request}], sampling | {"max_tokens": max_tokens}))
    finish = next((p.reason for p in pieces if isinstance(p, Finished)), "stop")
    return "".join(p for p in pieces if isinstance(p, str)), finish
