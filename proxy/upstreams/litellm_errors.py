"""LiteLLM's exceptions mapped to Hermes's errors: the one boundary for them (as sqlite_errors.py is SQLite's).

Local models are called through LiteLLM (upstream.py, upstream_text.py), and
LiteLLM reports an upstream's failure as one of its own exception types, its
words wrapped in its own prefixes. Here each becomes the Hermes error a
client should see, in the upstream's own words, with the same messages the
cloud relay (relay.py) gives for the same failure. Nothing above this module
sees a LiteLLM type.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import litellm
from litellm.exceptions import MidStreamFallbackError

from proxy.errors import (
    BadRequest,
    HermesError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    bad_response,
    incomplete,
    snippet,
)
from proxy.upstreams.stream_guard import StreamGuard

if TYPE_CHECKING:
    from proxy.upstreams.target import Target


def stream_error(exc: BaseException, guard: StreamGuard, target: Target) -> HermesError:
    """The Hermes error for a stream that failed after it began."""
    name = target.model.name
    if guard.broken_line is not None:
        return bad_response(f"{name} sent a stream line that is not JSON ({snippet(guard.broken_line)}); "
                            "the answer cannot be trusted.")
    if isinstance(exc, MidStreamFallbackError) and exc.original_exception is not None:
        exc = exc.original_exception
    if isinstance(exc, litellm.Timeout) or _caused_by(exc, TimeoutError):
        return translate_error(exc, target)
    if isinstance(exc, litellm.APIConnectionError):
        return incomplete_stream(guard, target, f"{name} closed the connection mid-answer")
    if isinstance(exc, litellm.BadRequestError):  # the request was accepted: a 400 now is a chunk LiteLLM could not read
        return bad_response(f"{name} sent a stream chunk that is not an OpenAI chunk.")
    return translate_error(exc, target)


def incomplete_stream(guard: StreamGuard, target: Target, what: str = "") -> UpstreamError:
    """A stream that stopped before its finish_reason; one that sent nothing at all is no answer."""
    name = target.model.name
    if guard.lines == 0 and not what:
        return bad_response(f"{name} answered with an empty body: there is no answer in it.")
    return incomplete(what or f"{name} ended its stream")


def translate_error(exc: BaseException, target: Target) -> HermesError:
    """The Hermes error for a failed upstream call (cf. httpx's map_httpcore_exceptions)."""
    if isinstance(exc, HermesError):
        return exc
    if isinstance(exc, MidStreamFallbackError) and exc.original_exception is not None:
        exc = exc.original_exception  # LiteLLM's wrapper for its router's fallbacks; the cause is inside
    name = target.model.name
    detail = _upstream_message(exc)
    if isinstance(exc, litellm.Timeout) or _caused_by(exc, TimeoutError):  # ours, or LiteLLM's read timeout
        return UpstreamTimeout(f"{name} did not answer within {target.timeout_s:g}s (timeout_s in routing_rules.yaml).")
    if isinstance(exc, litellm.RateLimitError):
        return _retry_later(UpstreamRateLimited, f"{name} is rate-limiting Hermes (HTTP 429): {detail}", exc)
    if isinstance(exc, litellm.ServiceUnavailableError):
        return _retry_later(UpstreamUnavailable, f"{name} is unavailable for now (HTTP 503): {detail}", exc)
    if _caused_by(exc, json.JSONDecodeError):  # a 200 whose body is HTML, empty, or cut
        return bad_response(f"{name} answered with a body that is not JSON{_original_response(exc)}.")
    if any(words in str(exc) for words in UNREADABLE_REPLY):
        return bad_response(f"{name} answered with something other than a chat completion "
                            "(no choices, or a choice without a message).")
    if isinstance(exc, litellm.ContextWindowExceededError) or (
        # Ollama-protocol servers say so only in words, which LiteLLM passes on as a plain 400.
        isinstance(exc, litellm.BadRequestError) and "context" in detail
    ):
        return BadRequest(f"The conversation is too long for {name}: {detail}", code="context_length_exceeded")
    if isinstance(exc, litellm.AuthenticationError):
        error = UpstreamError(f"{name} refused Hermes's API key; check OPENROUTER_API_KEY. ({detail})")
        error.retry = False
        return error
    if isinstance(exc, litellm.BadRequestError):
        return BadRequest(f"{name} rejected the request: {detail}", code="upstream_bad_request")
    if isinstance(exc, litellm.NotFoundError):
        return UpstreamError(f"{name} is not available at {target.api_base}: {detail}", code="model_unavailable")
    if isinstance(exc, litellm.APIConnectionError):
        return UpstreamError(f"Could not get an answer from {name} at {target.api_base}: {detail}")
    return UpstreamError(f"{name} failed: {detail}")


# LiteLLM's words for a 200 it could not read as a chat completion (`"choices": []`,
# a choice without a message); no exception type says so
# (litellm/litellm_core_utils/llm_response_utils/convert_dict_to_response.py).
UNREADABLE_REPLY = ("returned a response with no 'choices'", "Invalid response object")
# LiteLLM's prefixes: "litellm.APIError: APIError: OpenrouterException - ".
_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+: )?(?:\w+Error: )?(?:\w+Exception - )?")


def _upstream_message(exc: BaseException) -> str:
    """The upstream's own words on one line, without LiteLLM's wrapping or a traceback."""
    detail = str(getattr(exc, "message", None) or exc or "").strip()
    start = detail.find('{"error"')
    if start >= 0:
        try:
            error = json.JSONDecoder().raw_decode(detail[start:])[0]["error"]
            return snippet(str(error.get("message", error) if isinstance(error, dict) else error), 300)
        except (ValueError, KeyError, TypeError):
            pass
    line = _LITELLM_PREFIX.sub("", detail.splitlines()[0] if detail else "")
    for tail in (" Original exception", " Original Response", "Traceback"):
        line = line.split(tail)[0]
    return snippet(line.strip(" .,") or type(exc).__name__, 300)


def _original_response(exc: BaseException) -> str:
    """' (an empty body)' or ' (it begins "...")', from the body LiteLLM quotes, if it does."""
    _, marker, quoted = str(exc).partition("Original Response:")
    if not marker:
        return ""
    return f' (it begins "{snippet(quoted)}")' if quoted.strip() else " (an empty body)"


def _retry_later(kind: type[UpstreamError], message: str, exc: BaseException) -> UpstreamError:
    """A `kind` error carrying the upstream's Retry-After, which LiteLLM keeps in `litellm_response_headers`."""
    headers = getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", {})
    value = next((str(v).strip() for k, v in dict(headers or {}).items() if k.lower() == "retry-after"), "")
    error = kind(f"{message} (Retry-After: {value})" if value else message)
    error.retry_after = value or None
    return error


def _caused_by(exc: BaseException, *kinds: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
