"""Every error Hermes raises on purpose, each carrying its OpenAI error shape.

    HermesError                      status, type, code
     +-- BadRequest                  400 invalid_request_error
     +-- Unauthorized                401 invalid_request_error / invalid_api_key
     +-- Forbidden                   403 invalid_request_error / origin_not_allowed, host_not_allowed
     +-- NotFound                    404 invalid_request_error / not_found
     |    +-- UnknownModel           404 invalid_request_error / model_not_found
     +-- BodyTooLarge                413 invalid_request_error / request_too_large
     +-- UnsupportedMediaType        415 invalid_request_error / unsupported_media_type
     +-- UnpricedModel               400 invalid_request_error / model_not_priced
     +-- BudgetExhausted             429 insufficient_quota
     +-- ClientClosed                499 (recorded only: the client has gone)
     +-- UpstreamError               502 upstream_error
     |    +-- UpstreamRateLimited    429 upstream_error / upstream_rate_limited (+ Retry-After)
     |    +-- UpstreamUnavailable    503 upstream_error / upstream_unavailable (+ Retry-After)
     |    +-- UpstreamTimeout        504 upstream_error / timeout
     +-- StoreUnavailable            503 server_error / store_unavailable
     +-- ConfigError                 start-up only; never reaches a client

This module imports nothing else from `proxy`, so any module can raise these
without reaching up into the HTTP layer.
"""

from __future__ import annotations


class HermesError(Exception):
    """An error with the status, OpenAI `type` and `code` a client should see."""

    status = 500
    type = "server_error"
    code: str | None = None
    # The OpenAI SDKs stop retrying when they see `x-should-retry: false`.
    retry = True
    # Sent as the Retry-After header: the upstream's own, passed on unchanged.
    retry_after: str | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(HermesError):
    """The request is malformed; sending it again unchanged will not help."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"
    retry = False


class Unauthorized(HermesError):
    """The bearer key is missing or wrong."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"
    retry = False


class Forbidden(HermesError):
    """The request came from where Hermes does not answer: a foreign web page's Origin, or a foreign Host."""

    status = 403
    type = "invalid_request_error"
    code = "forbidden"
    retry = False


class NotFound(HermesError):
    """What the request names does not exist."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"
    retry = False


class UnknownModel(NotFound):
    """The requested model is neither a route (`auto`, `local`, `cloud`) nor configured."""

    code = "model_not_found"


class BodyTooLarge(HermesError):
    """The request body is over `server.max_body_bytes`."""

    status = 413
    type = "invalid_request_error"
    code = "request_too_large"
    retry = False


class UnsupportedMediaType(HermesError):
    """A body whose Content-Type is not JSON: what a web page can send without asking first."""

    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"
    retry = False


class BudgetExhausted(HermesError):
    """The day's cloud budget is spent; the message says when it resets."""

    status = 429
    type = "insufficient_quota"
    code = "budget_exhausted"
    retry = False


class CloudUnavailable(HermesError):
    """A cloud model was asked for and none can be reached: no OPENROUTER_API_KEY. A 400, not a 502: it is
    this configuration that cannot serve it, and clients retry a 5xx for a minute or more."""

    status = 400
    type = "invalid_request_error"
    code = "cloud_unavailable"
    retry = False


class UnpricedModel(HermesError):
    """A cloud model with no known price: neither OpenRouter's catalogue nor litellm's table nor
    routing_rules.yaml prices it. Refused, never reserved at $0: a budget that cannot price a call cannot
    hold. A 400 like CloudUnavailable: this configuration cannot serve it, and a retry will not help."""

    status = 400
    type = "invalid_request_error"
    code = "model_not_priced"
    retry = False


class UpgradeOffered(HermesError):
    """Policy `ask` and no local answer: only a paid cloud answer would do, and the person must accept it.
    A 400, which agents show and do not retry, with the offer in its message."""

    status = 400
    type = "invalid_request_error"
    code = "upgrade_offered"
    retry = False


class ClientClosed(HermesError):
    """The client went away before the answer was complete (nginx's 499)."""

    status = 499
    type = "client_closed"
    code = "client_closed"


class ShuttingDown(HermesError):
    """Hermes is stopping (SIGTERM, Ctrl-C) and cut a call that had not ended within the grace period."""

    status = 503
    type = "server_error"
    code = "shutting_down"


class UpstreamError(HermesError):
    """A model behind Hermes failed or could not be reached."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"


class UpstreamRateLimited(UpstreamError):
    """A model behind Hermes said 429: too many requests; `retry_after` says when to try again."""

    status = 429
    code = "upstream_rate_limited"


class UpstreamUnavailable(UpstreamError):
    """A model behind Hermes said 503: overloaded or down for now; `retry_after` says when to try again."""

    status = 503
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    """A model behind Hermes did not answer within its configured timeout."""

    status = 504
    code = "timeout"


class StoreUnavailable(HermesError):
    """The database could not be read or written (locked too long by another process, disk full)."""

    status = 503
    type = "server_error"
    code = "store_unavailable"


class ConfigError(Exception):
    """A configuration file is wrong; the message names the file, key and expectation."""


# Shared by the two upstream boundaries (relay.py for the cloud, litellm_errors.py for local models),
# so a failure reads the same whichever path the call took.


def snippet(text: str, limit: int = 80) -> str:
    """`text` on one line, cut to `limit` characters: an upstream's words quoted in an error message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bad_response(message: str) -> UpstreamError:
    """An upstream answer that cannot be read as one: not JSON, not a chat completion, an empty body."""
    return UpstreamError(message, code="upstream_bad_response")


def incomplete(what: str) -> UpstreamError:
    """A stream that ended, or was cut, before its finish_reason: `what` says which."""
    return UpstreamError(f"{what} before sending a finish_reason: the answer is incomplete.",
                         code="upstream_stream_incomplete")
