"""The fixed part of `/openapi.json`: the schemas, headers and security scheme the handlers' docstrings refer to.

Each handler documents its own path in the YAML after `---` in its docstring
(read by app.py's schema generator); what those parts share lives here, as
`#/components/...`. OpenAPI 3.0: `nullable` rather than type lists.
"""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:  # OpenAPI 3.0 ignores whatever stands beside a $ref
        return {"allOf": [schema], "nullable": True}
    return schema | {"nullable": True}


_NUMBER = {"type": "number"}
_INTEGER = {"type": "integer"}
_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_USD = {"type": "number", "description": "US dollars"}

_CHAT_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "description": "OpenAI's chat completion request. Other parameters OpenRouter accepts pass through to a cloud model.",
    "properties": {
        "model": {"type": "string", "example": "auto",
                  "description": "auto (local first), local, cloud, a configured short name, or an OpenRouter slug"},
        "messages": {"type": "array", "minItems": 1, "items": _ref("ChatMessage")},
        "stream": _BOOLEAN,
        "stream_options": {"type": "object", "properties": {"include_usage": _BOOLEAN}},
        "max_tokens": {"type": "integer", "minimum": 0},
        "max_completion_tokens": {"type": "integer", "minimum": 0},
        "temperature": {"type": "number", "minimum": 0},
        "top_p": _NUMBER,
        "stop": {"oneOf": [_STRING, {"type": "array", "items": _STRING}]},
        "tools": {"type": "array", "items": _ref("Tool")},
        "tool_choice": {"oneOf": [_STRING, {"type": "object"}]},
        "response_format": {"type": "object"},
    },
}

_CHAT_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": _nullable({"oneOf": [_STRING, {"type": "array", "items": {"type": "object"}}]}),
        "name": _STRING,
        "tool_calls": {"type": "array", "items": _ref("ToolCall")},
        "tool_call_id": _STRING,
    },
}

_TOOL = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"type": "string", "enum": ["function"]},
        "function": {"type": "object", "required": ["name"], "properties": {
            "name": _STRING, "description": _STRING,
            "parameters": {"type": "object", "description": "JSON Schema of the arguments"}}},
    },
}

_TOOL_CALL = {
    "type": "object",
    "properties": {
        "id": _STRING,
        "type": {"type": "string", "enum": ["function"]},
        "function": {"type": "object", "properties": {
            "name": _STRING, "arguments": {"type": "string", "description": "JSON text"}}},
    },
}

_USAGE = {
    "type": "object",
    "properties": {
        "prompt_tokens": _INTEGER,
        "completion_tokens": _INTEGER,
        "total_tokens": _INTEGER,
        "cost": {"type": "number", "description": "USD, as OpenRouter reports it (cloud answers)"},
    },
}

_CHAT_COMPLETION = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices"],
    "properties": {
        "id": _STRING,
        "object": {"type": "string", "enum": ["chat.completion"]},
        "created": _INTEGER,
        "model": _STRING,
        "choices": {"type": "array", "items": {"type": "object", "properties": {
            "index": _INTEGER,
            "message": _ref("ChatMessage"),
            "finish_reason": _nullable({"type": "string", "example": "stop"}),
        }}},
        "usage": _ref("Usage"),
        "hermes": _ref("HermesVerdict"),
    },
}

_CHAT_CHUNK = {
    "type": "object",
    "description": "One `data:` event of a stream; the last one before `data: [DONE]` carries `hermes`. "
                   "Lines starting with `:` are comments sent while the cascade works.",
    "properties": {
        "id": _STRING,
        "object": {"type": "string", "enum": ["chat.completion.chunk"]},
        "created": _INTEGER,
        "model": _STRING,
        "choices": {"type": "array", "items": {"type": "object", "properties": {
            "index": _INTEGER,
            "delta": {"type": "object"},
            "finish_reason": _nullable(_STRING),
        }}},
        "usage": _nullable(_ref("Usage")),
        "hermes": _ref("HermesVerdict"),
    },
}

_ATTEMPT = {
    "type": "object",
    "required": ["model", "outcome"],
    "properties": {
        "model": _STRING,
        "outcome": {"type": "string", "enum": ["accepted", "rejected", "unscored", "skipped", "unavailable", "failed",
                                                "too_long", "too_slow"]},
        "score": {"type": "number", "minimum": 0, "maximum": 10},
        "signals": {"type": "array", "items": _STRING, "description": "the signals that failed"},
        "detail": _STRING,
    },
}

_SIGNAL = {
    "type": "object",
    "properties": {
        "name": _STRING,
        "passed": _nullable({"type": "boolean", "description": "null: skipped, and detail says why"}),
        "weight": _NUMBER,
        "detail": _STRING,
        "brief": _STRING,
        "value": _nullable({"type": "number", "minimum": -1, "maximum": 1,
                            "description": "the unweighted verdict, -1 (bad) to +1 (good); null: skipped"}),
    },
}

_UPGRADE_OPTION = {
    "type": "object",
    "description": "A cloud model the answer could be upgraded to, with its estimated cost and the session's",
    "properties": {
        "model": _STRING,
        "input_tokens": _INTEGER,
        "output_tokens": _INTEGER,
        "estimated_cost_usd": _USD,
        "expected_quality": _NUMBER,
        "quality_gain": _NUMBER,
        "cost_per_quality_point_usd": _nullable(_USD),
        "confidence": _NUMBER,
        "session": {"type": "object", "description": "the cost of staying on this model for the rest of the session"},
    },
}

_HERMES_VERDICT = {
    "type": "object",
    "description": "Where the answer came from, what it cost and what an upgrade would cost",
    "properties": {
        "route": {"type": "string", "enum": ["local", "cloud"]},
        "model": _STRING,
        "requested_model": _STRING,
        "task_type": _STRING,
        "classification": {"type": "object", "properties": {"tier": _STRING, "rule": _nullable(_STRING)}},
        "tier": {"type": "string", "description": "the budget tier"},
        "cost_usd": _USD,
        "budget_remaining_usd": _USD,
        "estimate": {"type": "object", "properties": {
            "input_tokens": _INTEGER, "output_tokens": _INTEGER, "cost_usd": _USD, "confidence": _NUMBER}},
        "quality": _nullable({"type": "object", "properties": {
            "score": _NUMBER, "target": _NUMBER, "of_model": _STRING, "explanation": _STRING,
            "signals": {"type": "array", "items": _ref("QualitySignal")}}}),
        "cascade": _nullable({"type": "object", "properties": {
            "attempts": {"type": "array", "items": _ref("CascadeAttempt")},
            "policy": _nullable({"type": "string", "enum": ["auto", "ask", "never"]}),
            "decision": _nullable(_STRING)}}),
        "upgrade_options": {"type": "array", "items": _ref("UpgradeOption")},
        "session": {"type": "object", "properties": {"id": _STRING, "turns": _INTEGER}},
        "cloud_unavailable": _nullable({"type": "string", "description": (
            "for `auto` with no OPENROUTER_API_KEY: that it has no cloud model to upgrade to")}),
    },
}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type", "code"], "properties": {
        "message": {"type": "string", "description": "what happened and what to do"},
        "type": {"type": "string", "example": "invalid_request_error"},
        "code": {"type": "string", "example": "model_not_found"},
    }}},
}

_MODEL = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {
        "id": _STRING,
        "object": {"type": "string", "enum": ["model"]},
        "created": _INTEGER,
        "owned_by": {"type": "string", "enum": ["hermes", "ollama", "openrouter"]},
        "available": {"type": "boolean", "description": (
            "Whether a request for it can be answered now: a local model is pulled (or served by the embedded "
            "model), a cloud model has OPENROUTER_API_KEY set; auto and local need a local model, cloud the key")},
    },
}

_LATEST_REQUEST = {
    "type": "object",
    "properties": {
        "id": _INTEGER,
        "created_at": {"type": "string", "format": "date-time"},
        "requested_model": _STRING,
        "route": _nullable(_STRING),
        "model": _nullable(_STRING),
        "task_type": _nullable(_STRING),
        "status": _INTEGER,
        "error_code": _nullable(_STRING),
        "session_id": _nullable(_STRING),
        "quality": _nullable({"type": "number", "description": "the score of the local answer given"}),
        "local_quality": _nullable({"type": "number",
                                    "description": "on a cloud row: the score of the local answer it replaced"}),
        "cost_usd": _USD,
        "latency_ms": _NUMBER,
        "input_tokens": _INTEGER,
        "output_tokens": _INTEGER,
        "cache_read_tokens": {"type": "integer", "description": "of input_tokens, read from the prompt cache"},
        "cache_write_tokens": {"type": "integer", "description": "of input_tokens, written to the prompt cache"},
        "prompt": _nullable({"type": "string", "description": "null unless server.store_prompts is on"}),
        "prompt_hash": _STRING,
        "outcome": _nullable({"type": "string", "enum": ["failed", "continued"],
                              "description": "what the session's next turn showed of this answer"}),
        "outcome_reason": _nullable(_STRING),
    },
}

_BUDGET_STATUS = {
    "type": "object",
    "properties": {
        "day": {"type": "string", "format": "date"},
        "limit_usd": _USD, "spent_usd": _USD, "reserved_usd": _USD, "remaining_usd": _USD,
        "tier": _STRING,
        "resets_at": {"type": "string", "format": "date-time"},
    },
}

_DASHBOARD = {
    "type": "object",
    "properties": {
        "generated_at": {"type": "string", "format": "date-time"},
        "window_days": _INTEGER,
        "budget": _ref("BudgetStatus"),
        "spend_by_day": {"type": "array", "items": {"type": "object", "properties": {
            "day": _STRING, "total_usd": _USD, "by_model": {"type": "object", "additionalProperties": _USD}}}},
        "by_task_type": {"type": "array", "items": {"type": "object"}},
        "upgrade": {"type": "object", "properties": {
            "auto_requests": _INTEGER, "to_cloud": _INTEGER, "rate": _nullable(_NUMBER)}},
        "quality": {"type": "object", "properties": {"scored": _INTEGER, "mean": _nullable(_NUMBER)}},
        "latency_ms": {"type": "object", "properties": {
            "requests": _INTEGER, "p50": _nullable(_NUMBER), "p95": _nullable(_NUMBER)}},
        "prompt_cache": {"type": "object", "description": "cloud calls' input tokens and the part of them read "
                         "from and written to the providers' prompt caches", "properties": {
            "input_tokens": _INTEGER, "read_tokens": _INTEGER, "written_tokens": _INTEGER,
            "read_share": _nullable(_NUMBER)}},
        "prices": {"type": "object", "description": "where prices come from: OpenRouter's catalogue (its date) "
                   "or litellm's table", "properties": {"source": _STRING,
                                                        "catalogue_fetched_at": _nullable(_STRING)}},
        "predictions": {"type": "array", "items": {"type": "object"}},
        "latest": {"type": "array", "items": _ref("LatestRequest")},
        "by_key": {"type": "array", "items": {"type": "object", "properties": {
            "name": _STRING, "daily_limit_usd": _nullable(_USD), "spent_usd": _USD, "revoked": _BOOLEAN}}},
        "stale_prices": {"type": "array", "description": (
            "models whose bill was above its reservation: their table price is too low, and their "
            "reservations now scale by `factor`"), "items": {"type": "object", "properties": {
                "model": _STRING, "factor": _NUMBER, "bill_usd": _USD, "reserved_usd": _USD, "found_at": _STRING,
                "input_usd": _NUMBER, "output_usd": _NUMBER}}},
        "overrides": {"type": "array", "description": (
            "settings changed through the API, in force over their file until it is edited after them"),
            "items": {"type": "object", "properties": {
                "name": _STRING, "value": {}, "set_at": _STRING, "file": _STRING, "file_value": {},
                "key_in_file": _STRING}}},
    },
}

_REQUEST_DETAIL = {
    "allOf": [_ref("LatestRequest"), {"type": "object", "properties": {
        "stream": _BOOLEAN,
        "recorded": {"type": "boolean", "description": (
            "true: attempts, signals and decision are the request's own, as recorded; false: the attempts are "
            "matched from the cascade's log by task type and time, and the decision is read off the row")},
        "attempts": {"type": "array", "items": _ref("CascadeAttempt")},
        "signals": {"type": "array", "items": _ref("QualitySignal")},
        "explanation": _nullable(_STRING),
        "decision": {"type": "object", "properties": {"policy": _nullable(_STRING), "reason": _STRING}},
        "upgrade_options": {"type": "array", "items": _ref("UpgradeOption")},
        "error": _nullable({"type": "object", "description": "a failed request's error, as its client got it",
                            "properties": {"code": _nullable(_STRING), "message": _STRING}}),
        "reached": _nullable({"type": "string", "description": "how far a failed request got before it failed"}),
    }}],
}

_HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "local_api_base": _STRING,
        "local_models": _nullable({"type": "array", "items": _STRING}),
        "down": {"type": "object", "additionalProperties": _STRING},
    },
}


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": _STRING}


HEADERS = {
    "Route": _header("local, cloud or blocked"),
    "Model": _header("the model that answered"),
    "TaskType": _header("the task type the request was classified as"),
    "Tier": _header("the budget tier: normal, cheap, emergency or blocked"),
    "Quality": _header("the local answer's score and the target, e.g. 7.1/9.0"),
    "CostUSD": _header("what this answer cost, six decimals (a cloud stream: in the hermes field instead)"),
    "BudgetRemainingUSD": _header("what is left of today's budget, six decimals"),
    "Upgrade": _header("the best cloud upgrade: model, estimated cost, quality, confidence"),
    "SessionId": _header("the session this request belongs to"),
    "Reason": _header("why the request went where it did (as hermes.reason)"),
    "SessionCostUSD": _header("the projected cost of the rest of the session on the upgrade's model"),
}

def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


RESPONSES = {
    "BadRequest": _error_response("Malformed request (type invalid_request_error)"),
    "Unauthorized": _error_response("Missing or wrong key: send Authorization: Bearer $HERMES_API_KEY"),
    "NotFound": _error_response("No such model or record"),
    "TooLarge": _error_response("Body over server.max_body_bytes"),
    "BudgetExhausted": _error_response(
        "Today's budget is spent (type insufficient_quota, header x-should-retry: false); the message says when "
        "it resets"),
    "UpstreamError": _error_response("The model could not answer: not pulled, no OPENROUTER_API_KEY, or it failed"),
    "UpstreamTimeout": _error_response("The model did not answer in time"),
}

COMPONENTS: dict[str, Any] = {
    "responses": RESPONSES,
    "securitySchemes": {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "HERMES_API_KEY, required only when it is set; the dashboard's page sends the key "
                           "it finds in /dashboard#key=<key>.",
        },
    },
    "headers": HEADERS,
    "schemas": {
        "ChatCompletionRequest": _CHAT_REQUEST,
        "ChatMessage": _CHAT_MESSAGE,
        "Tool": _TOOL,
        "ToolCall": _TOOL_CALL,
        "Usage": _USAGE,
        "ChatCompletion": _CHAT_COMPLETION,
        "ChatCompletionChunk": _CHAT_CHUNK,
        "HermesVerdict": _HERMES_VERDICT,
        "CascadeAttempt": _ATTEMPT,
        "QualitySignal": _SIGNAL,
        "UpgradeOption": _UPGRADE_OPTION,
        "Error": _ERROR,
        "Model": _MODEL,
        "ModelList": {"type": "object", "required": ["object", "data"], "properties": {
            "object": {"type": "string", "enum": ["list"]}, "data": {"type": "array", "items": _ref("Model")}}},
        "Health": _HEALTH,
        "BudgetStatus": _BUDGET_STATUS,
        "LatestRequest": _LATEST_REQUEST,
        "DashboardData": _DASHBOARD,
        "RequestDetail": _REQUEST_DETAIL,
    },
}

BASE_SCHEMA: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Hermes", "version": "0.1.0",
             "description": "A local-first, budget-aware, OpenAI-compatible proxy. Every answer says where it came "
                            "from and what it cost, in X-Hermes-* headers and the extra `hermes` field."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "components": COMPONENTS,
}
