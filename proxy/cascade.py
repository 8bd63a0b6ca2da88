"""Choose the model a chat request goes to.

Today this resolves the route a client named: `auto` and `local` take the
first configured local model that Ollama has, `cloud` the first cloud model
the budget tier allows, and a concrete name that model. The scoring cascade and the upgrade
decision (design.md, "The cascade") grow here, behind `choose_target`.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.config import Config, ModelRef
from proxy.errors import UnknownModel, UpstreamError
from proxy.ollama import LocalCatalog
from proxy.openai_api import ChatRequest
from proxy.upstream import Target


async def choose_target(
    chat: ChatRequest, config: Config, catalog: LocalCatalog, allowed_cloud: Sequence[ModelRef]
) -> Target:
    """The model to call for `chat`; raises UnknownModel or UpstreamError with what to do.

    `cloud` takes the first of `allowed_cloud` (what the budget tier allows);
    when the tier allows none, the budget's reservation refuses it, saying why.
    """
    if chat.model in ("auto", "local"):
        return await _first_local(config, catalog)
    if chat.model == "cloud":
        if not config.cloud_models:
            raise UnknownModel("No cloud models are configured (cloud.models in routing_rules.yaml).")
        return _cloud_target(config, (list(allowed_cloud) or list(config.cloud_models))[0])
    ref = config.find_model(chat.model)
    if ref is None:
        names = ", ".join(["auto", "local", "cloud"] + [m.name for m in config.local_models + config.cloud_models])
        raise UnknownModel(f"The model '{chat.model}' does not exist. Available: {names}.")
    if ref.kind == "cloud":
        return _cloud_target(config, ref)
    if not await catalog.has(ref.name):
        raise _unavailable(
            f"{ref.name} is not available at {catalog.api_base}: "
            f"{_why_missing(await catalog.models(), ref.name)}"
        )
    return _local_target(config, ref)


async def _first_local(config: Config, catalog: LocalCatalog) -> Target:
    pulled = await catalog.models()
    if pulled is None:
        raise _unavailable(
            f"No local model is reachable: nothing answers at {catalog.api_base}. "
            "Start Ollama (`ollama serve`) or let `hermes serve` start its embedded model."
        )
    for ref in config.local_models:
        if await catalog.has(ref.name):
            return _local_target(config, ref)
    if not config.local_models:
        raise _unavailable("No local models are configured (local.models in routing_rules.yaml).")
    wanted = ", ".join(ref.name for ref in config.local_models)
    raise _unavailable(
        f"Ollama at {catalog.api_base} has none of the configured local models ({wanted}); "
        f"pull one, e.g. `ollama pull {config.local_models[0].name}`."
    )


def _why_missing(pulled: frozenset[str] | None, name: str) -> str:
    if pulled is None:
        return "nothing answers there. Start Ollama (`ollama serve`)."
    return f"it is not pulled. Run `ollama pull {name}`."


def _local_target(config: Config, ref: ModelRef) -> Target:
    return Target(ref, config.ollama_api_base, None, config.routing.local.timeout_s)


def _cloud_target(config: Config, ref: ModelRef) -> Target:
    if config.openrouter_api_key is None:
        raise _unavailable(f"{ref.name} is a cloud model and OPENROUTER_API_KEY is not set; set it and restart Hermes.")
    return Target(ref, config.openrouter_api_base, config.openrouter_api_key, config.routing.cloud.timeout_s)


def _unavailable(message: str) -> UpstreamError:
    # Retrying cannot help until the user acts; say so to clients that retry on 5xx.
    error = UpstreamError(message, code="model_unavailable")
    error.retry = False
    return error
