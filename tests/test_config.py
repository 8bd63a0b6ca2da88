"""Loading and validating routing_rules.yaml and budgets.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from proxy.config import BUDGETS_FILE, ROUTING_FILE, Secret, load_config
from proxy.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in (ROUTING_FILE, BUDGETS_FILE):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def load_error(config_dir: Path) -> str:
    """The one-line error, without its last words, which name the folder the file was read from."""
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, {})
    message = str(info.value)
    assert "\n" not in message  # one line
    folder = f" (read from {config_dir.resolve()})"
    assert message.endswith(folder) or "file not found" in message, message
    return message.removesuffix(folder)


def test_shipped_files_describe_the_product(config_dir: Path) -> None:
    config = load_config(config_dir, {})
    assert [m.name for m in config.local_models] == [
        "llama3.2:3b", "qwen2.5-coder:7b", "gemma3:latest", "llama3.1:8b", "smollm2:135m"]
    assert config.local_models[0].litellm_model == "ollama_chat/llama3.2:3b"
    assert [m.litellm_model for m in config.cloud_models] == [
        "openrouter/anthropic/claude-sonnet-4.6", "openrouter/openai/gpt-5.2",
        "openrouter/anthropic/claude-opus-5", "openrouter/google/gemini-3-flash-preview"]
    assert [m.name for m in config.cloud_models if m.cheap] == ["claude-sonnet", "gemini-flash"]
    assert config.routing.cascade.target_quality == 9.0
    assert config.routing.server.max_body_bytes == 10 * 1024 * 1024
    assert config.budget.daily_limit_usd == 5.0
    assert [(t.name, t.min_remaining_usd) for t in config.budget.tiers] == [
        ("normal", 2.0), ("cheap", 0.5), ("emergency", 0.0)]
    assert config.budget.tiers[2].max_tokens == 256
    assert config.ollama_api_base == "http://127.0.0.1:11434"
    assert config.openrouter_api_key is None


def test_environment_overrides_addresses_database_and_keys(config_dir: Path, tmp_path: Path) -> None:
    env = {
        "OLLAMA_API_BASE": "http://10.0.0.5:11434/",
        "OPENROUTER_API_BASE": "http://127.0.0.1:9999/api/v1",
        "OPENROUTER_API_KEY": "sk-or-secret",
        "HERMES_DB": str(tmp_path / "x.db"),
    }
    config = load_config(config_dir, env)
    assert config.ollama_api_base == "http://10.0.0.5:11434"
    assert config.openrouter_api_base == "http://127.0.0.1:9999/api/v1"
    assert config.database == tmp_path / "x.db"
    assert config.openrouter_api_key == Secret("sk-or-secret")
    assert "sk-or-secret" not in repr(config)


def test_secret_never_shows_itself() -> None:
    secret = Secret("sk-or-123")
    assert "sk-or-123" not in repr(secret) and "sk-or-123" not in str(secret) and "sk-or-123" not in f"{secret}"
    assert secret.reveal() == "sk-or-123"


def test_models_are_found_by_short_name_or_slug(config_dir: Path) -> None:
    config = load_config(config_dir, {})
    assert config.find_model("gpt").litellm_model == "openrouter/openai/gpt-5.2"
    assert config.find_model("openai/gpt-5.2").name == "gpt"
    assert config.find_model("smollm2:135m").kind == "local"
    assert config.find_model("gpt-5") is None


def test_unknown_key_names_file_and_key(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "  target_quality: 9.0", "  target_qualty: 9.0")
    assert load_error(config_dir) == "routing_rules.yaml: cascade.target_qualty is not a known key"


def test_wrong_type_names_key_path_and_value(config_dir: Path) -> None:
    replace_in(config_dir / BUDGETS_FILE, "min_remaining_usd: 0.50", "min_remaining_usd: two")
    message = load_error(config_dir)
    assert message.startswith("budgets.yaml: tiers[1].min_remaining_usd must be a valid number")
    assert message.endswith("got 'two'")


def test_value_out_of_range(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "quality_prior: 6.5", "quality_prior: 11")
    assert load_error(config_dir) == (
        "routing_rules.yaml: local.models[0].quality_prior must be less than or equal to 10, got 11")


def test_bad_upgrade_policy(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "upgrade_policy: auto", "upgrade_policy: sometimes")
    assert load_error(config_dir).startswith("routing_rules.yaml: upgrade_policy must be 'auto', 'ask' or 'never'")


def test_unknown_time_zone(config_dir: Path) -> None:
    replace_in(config_dir / BUDGETS_FILE, "reset_timezone: local", "reset_timezone: Mars/Olympus")
    assert "reset_timezone must be 'local' or an IANA time zone" in load_error(config_dir)


def test_tiers_out_of_order(config_dir: Path) -> None:
    replace_in(config_dir / BUDGETS_FILE, "min_remaining_usd: 2.00", "min_remaining_usd: 0.10")
    assert "tiers must be ordered from the highest" in load_error(config_dir)


def test_duplicate_model_name(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "- name: gpt\n", "- name: claude-sonnet\n")
    assert load_error(config_dir) == (
        "routing_rules.yaml: model name 'claude-sonnet' is used twice; names must be unique")


def test_invalid_yaml_names_file_and_line(config_dir: Path) -> None:
    (config_dir / BUDGETS_FILE).write_text("daily_limit_usd: 5\ntiers: [\n")
    assert load_error(config_dir).startswith("budgets.yaml: not valid YAML at line")


def test_missing_file(tmp_path: Path) -> None:
    assert "routing_rules.yaml: file not found" in load_error(tmp_path)


def test_empty_files_mean_defaults(tmp_path: Path) -> None:
    (tmp_path / ROUTING_FILE).write_text("")
    (tmp_path / BUDGETS_FILE).write_text("# nothing\n")
    config = load_config(tmp_path, {})
    assert config.budget.daily_limit_usd == 5.0
    assert [m.name for m in config.local_models] == ["smollm2:135m"]


def test_the_judge_must_be_a_local_model(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "judge_model: null", "judge_model: gpt")
    assert load_error(config_dir).startswith("routing_rules.yaml: quality.judge_model must name a local model (")


def test_shipped_task_tiers_route_by_task(config_dir: Path) -> None:
    tiers = load_config(config_dir, {}).routing.cloud.tiers
    assert tiers == {"cheap": ("gemini-flash",), "smart": ("claude-sonnet", "claude-opus"),
                     "yolo": ("gemini-flash",), "default": "any"}


def test_a_task_tier_no_rule_uses_is_allowed(config_dir: Path) -> None:
    """Rules replaced in a config of one's own need not prune the shipped mapping."""
    replace_in(config_dir / ROUTING_FILE, "    yolo: [gemini-flash]", "    yolo: [gemini-flash]\n    spare: any")
    assert load_config(config_dir, {}).routing.cloud.tiers["spare"] == "any"


def test_a_task_tier_naming_an_unknown_model_is_refused(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "smart: [claude-sonnet, claude-opus]", "smart: [claude-sonnet, claude-4]")
    assert load_error(config_dir) == (
        "routing_rules.yaml: cloud.tiers.smart[1] must name a cloud model "
        "(claude-sonnet, gpt, claude-opus, gemini-flash), got 'claude-4'")


def test_a_task_tier_naming_a_local_model_is_refused(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "cheap: [gemini-flash]", "cheap: [smollm2:135m]")
    assert load_error(config_dir).startswith("routing_rules.yaml: cloud.tiers.cheap[0] must name a cloud model (")


@pytest.mark.parametrize("value", [
    pytest.param("best", id="a-word-not-any"),
    pytest.param("[]", id="empty-list"),
    pytest.param("[1, 2]", id="numbers"),
])
def test_a_task_tier_must_be_any_or_a_list_of_names(config_dir: Path, value: str) -> None:
    replace_in(config_dir / ROUTING_FILE, "default: any", f"default: {value}")
    message = load_error(config_dir)
    assert message.startswith("routing_rules.yaml: cloud.tiers must map each classification tier to 'any' or a list "
                              "of cloud model names, got default: ")


def test_a_rule_whose_tier_has_no_cloud_models_is_refused(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, "      tier: smart\n", "      tier: smrt\n")
    assert load_error(config_dir) == (
        "routing_rules.yaml: classification.rules[1].tier is 'smrt', which cloud.tiers does not map to cloud models "
        "(it maps cheap, smart, yolo, default)")


@pytest.mark.parametrize(("asked", "means"), [
    pytest.param("claude-haiku-4-5-20251001", "local", id="claude-code-small-fast"),
    pytest.param("claude-opus-4-1", "auto", id="claude-code-main"),
    pytest.param("CLAUDE-SONNET-4-5", "auto", id="any-case"),
    pytest.param("gpt-5-codex", "auto", id="codex"),
    pytest.param("gemini-2.5-flash-lite", "local", id="gemini-cli-router"),
    pytest.param("gemini-3-pro-preview", "auto", id="gemini-cli-main"),
    pytest.param("claude-sonnet", "claude-sonnet", id="a-configured-model-is-never-aliased"),
    pytest.param("anthropic/claude-sonnet-4.6", "anthropic/claude-sonnet-4.6", id="nor-its-slug"),
    pytest.param("claude-3.5-sonnet", "claude-sonnet", id="the-2024-names-mean-the-same-roles"),
    pytest.param("gpt-4", "gpt", id="gpt-4-too"),
    pytest.param("gpt-5", "auto", id="codex-default"),
    pytest.param("claude-sonnet-4-6", "auto", id="claude-code-sonnet"),
    pytest.param("gpt-9", "gpt-9", id="no-pattern-fits"),
])
def test_shipped_aliases_map_the_agents_model_names(config_dir: Path, asked: str, means: str) -> None:
    assert load_config(config_dir, {}).resolve_alias(asked) == means


def test_an_alias_naming_no_route_or_model_is_refused(config_dir: Path) -> None:
    replace_in(config_dir / ROUTING_FILE, '"claude-*": auto', '"claude-*": claude-9')
    assert "aliases.claude-* must name a route or a configured model" in load_error(config_dir)
