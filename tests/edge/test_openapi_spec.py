"""/openapi.json, as a client generator reads it: every schema, header and reference there, valid OpenAPI 3."""

from __future__ import annotations

import httpx
import pytest


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [ref for key, value in node.items() for ref in (
            [value] if key == "$ref" and isinstance(value, str) else _refs(value))]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_openapi_has_request_and_response_schemas_and_the_bearer_scheme(hermes_url: str) -> None:
    schema = httpx.get(f"{hermes_url}/openapi.json", timeout=10).json()
    assert schema["openapi"].startswith("3.0")
    components = schema["components"]
    assert components["securitySchemes"]["bearer"] == components["securitySchemes"]["bearer"] | {
        "type": "http", "scheme": "bearer"}
    assert schema["security"] == [{"bearer": []}]
    assert schema["paths"]["/health"]["get"]["security"] == []  # public, like the dashboard's page
    for name in ("ChatCompletionRequest", "ChatCompletion", "ChatCompletionChunk", "HermesVerdict", "Error",
                 "Model", "ModelList", "DashboardData", "RequestDetail"):
        assert components["schemas"][name]["type" if name != "RequestDetail" else "allOf"], name

    chat_post = schema["paths"]["/v1/chat/completions"]["post"]
    body = chat_post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    ok = chat_post["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletion"}
    assert "text/event-stream" in ok["content"] and "X-Hermes-Route" in ok["headers"]
    for status in ("400", "401", "404", "413", "429", "502", "504"):
        error = chat_post["responses"][status]
        assert components["responses"][error["$ref"].rsplit("/", 1)[1]]["content"]["application/json"][
            "schema"] == {"$ref": "#/components/schemas/Error"}, status
    models = schema["paths"]["/v1/models"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert models == {"$ref": "#/components/schemas/ModelList"}
    assert "available" in components["schemas"]["Model"]["properties"]
    for path in ("/api/v1/monitoring/dashboard", "/api/v1/monitoring/requests/{id}"):
        assert schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"], path

    for ref in _refs(schema):  # every reference points at something
        node: object = schema
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, ref
            node = node[part]


def test_openapi_validates_as_openapi_3(hermes_url: str) -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="pip install openapi-spec-validator")
    validator.validate(httpx.get(f"{hermes_url}/openapi.json", timeout=10).json())
