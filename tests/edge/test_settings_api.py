"""The settings and status API: what it reports, what it changes, and the bad input it refuses."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from proxy.config import Config
from tests import postgres
from tests.edge.test_app import HI, assert_openai_error, chat
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub

Serve = Callable[..., str]


def get(url: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{url}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]


def post(url: str, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=30)


def test_route_status_says_what_is_reachable(hermes_url: str) -> None:
    status = get(hermes_url, "/api/v1/route/status").json()
    assert status["local"]["reachable"] is True
    assert {m["name"]: m["available"] for m in status["local"]["models"]} == {
        "llama3.2:3b": False, "qwen2.5-coder:7b": False, "gemma3:latest": False, "llama3.1:8b": False,
        "smollm2:135m": True}
    assert status["cloud"]["configured"] is True and status["budget"]["tier"] == "normal"
    assert status["preferences"] == {"target_quality": 9.0, "upgrade_policy": "auto", "daily_limit_usd": 5.0}


def test_settings_models_lists_prices_and_priors(hermes_url: str) -> None:
    models = {m["name"]: m for m in get(hermes_url, "/api/v1/settings/models").json()["models"]}
    assert (models["gpt-4"]["input_usd_per_mtok"], models["gpt-4"]["output_usd_per_mtok"]) == (30.0, 60.0)
    assert models["claude-3-opus"]["cache_read_usd_per_mtok"] == 1.5
    assert models["smollm2:135m"] | {} == models["smollm2:135m"] and models["smollm2:135m"]["output_usd_per_mtok"] == 0
    assert models["smollm2:135m"]["available"] and not models["llama3.2:3b"]["available"]
    assert models["gemini-flash"]["cheap"] is True and models["gpt-4"]["available"] is True


def test_preferences_take_effect_at_once_and_persist(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    config = make_config()
    url = serve_hermes(config)
    changed = post(url, "/api/v1/settings/update-preferences", {"daily_limit_usd": 0, "upgrade_policy": "never"})
    assert changed.status_code == 200
    assert changed.json()["preferences"] == {"target_quality": 9.0, "upgrade_policy": "never", "daily_limit_usd": 0.0}
    assert_openai_error(chat(url, {"model": "gpt-4", "messages": HI}), 429, "budget_exhausted")  # no restart
    assert openrouter.requests == []
    restarted = serve_hermes(config)  # same database: the preferences are still there
    assert get(restarted, "/api/v1/route/status").json()["preferences"]["upgrade_policy"] == "never"


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        pytest.param({"daily_limit_usd": -1}, "invalid_daily_limit_usd", "0 or more, got -1", id="negative-limit"),
        pytest.param({"daily_limit_usd": "5"}, "invalid_daily_limit_usd", "got '5'", id="limit-string"),
        pytest.param({"target_quality": 11}, "invalid_target_quality", "from 0 to 10", id="quality-11"),
        pytest.param({"target_quality": True}, "invalid_target_quality", "got True", id="quality-bool"),
        pytest.param({"upgrade_policy": "sometimes"}, "invalid_upgrade_policy", "auto, ask or never", id="policy"),
        pytest.param({"colour": "red"}, "unknown_preference", "Unknown preference 'colour'", id="unknown-key"),
        pytest.param({}, "invalid_request", "Send a JSON object", id="empty"),
        pytest.param([1], "invalid_request", "Send a JSON object", id="array"),
    ],
)
def test_bad_preferences_are_refused_and_change_nothing(hermes_url: str, body: object, code: str, fragment: str) -> None:
    before = get(hermes_url, "/api/v1/route/status").json()["preferences"]
    error = assert_openai_error(post(hermes_url, "/api/v1/settings/update-preferences", body), 400, code)
    assert fragment in error["message"]
    assert get(hermes_url, "/api/v1/route/status").json()["preferences"] == before


def test_tracked_usage_counts_against_the_budget(hermes_url: str) -> None:
    priced = post(hermes_url, "/api/v1/costs/track-usage", {"model": "gpt-4", "input_tokens": 1000, "output_tokens": 500})
    assert priced.status_code == 200
    assert priced.json()["recorded"]["cost_usd"] == pytest.approx(0.06)
    stated = post(hermes_url, "/api/v1/costs/track-usage",
                  {"model": "mistral/large", "input_tokens": 10, "output_tokens": 10, "cost_usd": 0.5})
    assert stated.json()["budget"]["spent_usd"] == pytest.approx(0.56)
    analysis = get(hermes_url, "/api/v1/costs/analysis").json()
    assert analysis["remaining_usd"] == pytest.approx(4.44)
    assert {m["model"] for m in analysis["by_model"]} == {"gpt-4", "mistral/large"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"model": "gpt-4", "input_tokens": -1, "output_tokens": 1}, "invalid_input_tokens", id="negative"),
        pytest.param({"model": "gpt-4", "input_tokens": "10", "output_tokens": 1}, "invalid_input_tokens", id="string"),
        pytest.param({"model": "gpt-4", "input_tokens": 1}, "invalid_output_tokens", id="missing"),
        pytest.param({"model": "gpt-4", "input_tokens": 1, "output_tokens": 1, "cost_usd": -0.1}, "invalid_cost_usd",
                     id="negative-cost"),
        pytest.param({"model": "no-such", "input_tokens": 1, "output_tokens": 1}, "invalid_model", id="unpriced"),
        pytest.param({"model": "gpt-4", "input_tokens": 1, "output_tokens": 1, "extra": 1}, "invalid_request",
                     id="unknown-key"),
        pytest.param({"model": "gpt-4", "input_tokens": 1, "output_tokens": 1, "task_type": "poetry"},
                     "invalid_task_type", id="task-type"),
    ],
)
def test_bad_usage_is_refused_and_records_nothing(hermes_url: str, body: dict, code: str) -> None:
    assert_openai_error(post(hermes_url, "/api/v1/costs/track-usage", body), 400, code)
    assert get(hermes_url, "/api/v1/costs/analysis").json()["spent_usd"] == 0


def test_predictions_list_predicted_next_to_actual(hermes_url: str, openrouter: OpenRouterStub) -> None:
    chat(hermes_url, {"model": "gpt-4", "messages": HI})
    [row] = get(hermes_url, "/api/v1/monitoring/predictions").json()["predictions"]
    assert (row["model"], row["actual_cost_usd"]) == ("gpt-4", COST_PER_CALL_USD)
    assert row["predicted_cost_usd"] > 0 and row["predicted_output_tokens"] == 150
    for bad in ("0", "x", "501"):
        assert_openai_error(get(hermes_url, "/api/v1/monitoring/predictions", params={"limit": bad}), 400,
                            "invalid_limit")


def test_openapi_schema_documents_the_api(hermes_url: str) -> None:
    schema = get(hermes_url, "/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    for path in ("/v1/chat/completions", "/v1/models", "/api/v1/route/status", "/api/v1/monitoring/dashboard",
                 "/api/v1/monitoring/predictions", "/api/v1/costs/track-usage", "/api/v1/settings/models",
                 "/api/v1/settings/update-preferences", "/api/v1/costs/analysis", "/api/v1/route/process"):
        assert path in schema["paths"], path
    prefs = schema["paths"]["/api/v1/settings/update-preferences"]["post"]
    assert prefs["requestBody"]["content"]["application/json"]["schema"]["additionalProperties"] is False


STATUS_PATHS = ("/api/v1/route/status", "/api/v1/costs/analysis", "/api/v1/monitoring/dashboard", "/metrics")


def raw_post(url: str, path: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}{path}", content=body, headers={"content-type": "application/json"}, timeout=30)


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        pytest.param("/api/v1/costs/track-usage", b'{"model": "x", "input_tokens": 1, "output_tokens": 1, '
                     b'"cost_usd": Infinity}', "invalid_json", id="usage-infinity"),
        pytest.param("/api/v1/costs/track-usage", b'{"model": "x", "input_tokens": 1, "output_tokens": 1, '
                     b'"cost_usd": NaN}', "invalid_json", id="usage-nan"),
        pytest.param("/api/v1/costs/track-usage", b'{"model": "x", "input_tokens": 1, "output_tokens": 1, '
                     b'"cost_usd": 1e999}', "invalid_json", id="usage-overflow"),
        pytest.param("/api/v1/costs/track-usage", b'{"model": "x", "input_tokens": 1, "output_tokens": 1, '
                     b'"cost_usd": 1e300}', "invalid_cost_usd", id="usage-huge-cost"),
        pytest.param("/api/v1/costs/track-usage", b'{"model": "gpt-4", "input_tokens": 1' + b"0" * 40 +
                     b', "output_tokens": 1}', "invalid_input_tokens", id="usage-huge-tokens"),
        pytest.param("/api/v1/costs/track-usage", b'{"model": "gpt-4", "input_tokens": 1, "output_tokens": 1, '
                     b'"task_type": {}}', "invalid_task_type", id="usage-task-type-object"),
        pytest.param("/api/v1/settings/update-preferences", b'{"daily_limit_usd": 1e999}', "invalid_json",
                     id="limit-overflow"),
        pytest.param("/api/v1/settings/update-preferences", b'{"daily_limit_usd": 999999999}',
                     "invalid_daily_limit_usd", id="limit-huge"),
        pytest.param("/api/v1/settings/update-preferences", b'{"target_quality": NaN}', "invalid_json",
                     id="quality-nan"),
        pytest.param("/api/v1/settings/update-preferences", b'{"upgrade_policy": {}}', "invalid_upgrade_policy",
                     id="policy-object"),
        pytest.param("/api/v1/settings/update-preferences", b'{"daily_limit_usd": ' + b"9" * 5000 + b"}",
                     "invalid_json", id="limit-5000-digits"),
    ],
)
def test_numbers_that_would_poison_the_store_are_refused(hermes_url: str, path: str, body: bytes, code: str) -> None:
    before = get(hermes_url, "/api/v1/route/status").json()["preferences"]
    assert_openai_error(raw_post(hermes_url, path, body), 400, code)
    assert get(hermes_url, "/api/v1/route/status").json()["preferences"] == before
    assert get(hermes_url, "/api/v1/costs/analysis").json()["spent_usd"] == 0
    for status_path in STATUS_PATHS:
        assert get(hermes_url, status_path).status_code == 200, status_path


def test_the_largest_allowed_values_keep_every_status_endpoint_working(hermes_url: str) -> None:
    usage = {"model": "x", "input_tokens": 10**12, "output_tokens": 10**12, "cost_usd": 1_000_000}
    assert post(hermes_url, "/api/v1/costs/track-usage", usage).status_code == 200
    assert post(hermes_url, "/api/v1/settings/update-preferences", {"daily_limit_usd": 1_000_000}).status_code == 200
    for status_path in STATUS_PATHS:
        assert get(hermes_url, status_path).status_code == 200, status_path


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "limit=1e9", "limit=5&limit=6", "limit=%C2%B2",
                                   "limit=%D9%A1", "limit=", "limit=0050", "limit=" + "9" * 5000, "limit=%FF"])
def test_odd_prediction_limits_are_400(hermes_url: str, query: str) -> None:
    response = httpx.get(f"{hermes_url}/api/v1/monitoring/predictions?{query}", timeout=30)
    assert_openai_error(response, 400, "invalid_limit")


def test_saved_preferences_that_are_not_valid_are_ignored_at_start(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    config = make_config()
    url = serve_hermes(config)
    assert post(url, "/api/v1/settings/update-preferences", {"upgrade_policy": "never"}).status_code == 200
    # What an older Hermes let through.
    postgres.query(config.database, """INSERT INTO preferences (key, value, updated_at)
                   VALUES ('daily_limit_usd', 'Infinity', '2999-01-01T00:00:00+00:00')""")
    restarted = serve_hermes(config)
    assert get(restarted, "/api/v1/route/status").json()["preferences"]["daily_limit_usd"] == 5.0


def test_a_setting_changed_through_the_api_is_an_override_shown_everywhere_until_the_file_changes_after_it(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    config = make_config()
    url = serve_hermes(config)
    assert post(url, "/api/v1/settings/update-preferences", {"daily_limit_usd": 2.5}).status_code == 200
    restarted = serve_hermes(config)  # a restart keeps it: it is newer than budgets.yaml
    status = get(restarted, "/api/v1/route/status").json()
    assert status["preferences"]["daily_limit_usd"] == 2.5
    [override] = status["overrides"]
    assert (override["name"], override["value"], override["file"], override["file_value"]) == (
        "daily_limit_usd", 2.5, "budgets.yaml", 5.0)
    assert get(restarted, "/api/v1/costs/analysis").json()["overrides"] == [override]
    assert get(restarted, "/api/v1/monitoring/dashboard").json()["overrides"] == [override]

    # Editing the file after it: the newest change wins, so the file's value is back.
    budgets = config.config_dir / "budgets.yaml"
    budgets.write_text(budgets.read_text().replace("daily_limit_usd: 5.0", "daily_limit_usd: 10.0"))
    edited = serve_hermes(make_config(budget={"daily_limit_usd": 10.0}))
    status = get(edited, "/api/v1/route/status").json()
    assert (status["preferences"]["daily_limit_usd"], status["overrides"]) == (10.0, [])


def test_reset_drops_the_overrides_and_the_files_values_are_in_force_at_once(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    url = serve_hermes(make_config())
    post(url, "/api/v1/settings/update-preferences", {"upgrade_policy": "never", "target_quality": 6})
    one = post(url, "/api/v1/settings/reset-preferences", {"keys": ["upgrade_policy"]}).json()
    assert one["preferences"]["upgrade_policy"] == "auto" and [o["name"] for o in one["overrides"]] == ["target_quality"]
    assert_openai_error(post(url, "/api/v1/settings/reset-preferences", {"keys": ["colour"]}), 400,
                        "unknown_preference")
    every = post(url, "/api/v1/settings/reset-preferences", {}).json()
    assert every["preferences"]["target_quality"] == 9.0 and every["overrides"] == []
    assert get(url, "/api/v1/route/status").json()["overrides"] == []
