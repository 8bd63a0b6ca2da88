"""Which local models are reachable right now, asked of Ollama's `/api/tags`.

An Ollama that is down is an answer ("nothing is pulled"), not an error: the
caller decides what to do with it.
"""

from __future__ import annotations

import time

import httpx

PROBE_TIMEOUT_S = 2.0
# Long enough to spare Ollama a call per request, short enough that a model
# pulled a moment ago is picked up without a restart.
CATALOG_TTL_S = 10.0


async def pulled_models(client: httpx.AsyncClient, api_base: str) -> frozenset[str] | None:
    """Names of the models Ollama at `api_base` has, or None if nothing answers there.

    A reply that is not Ollama's `{"models": [...]}` (HTML from some other
    server on the port, `{"models": 5}`, a bare list) counts as nothing
    answering: a stranger on the port is no more use than an empty one.
    """
    try:
        response = await client.get(f"{api_base}/api/tags", timeout=PROBE_TIMEOUT_S)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    models = body.get("models") or []  # a null list: nothing is pulled
    if not isinstance(models, list):
        return None
    names = set()
    for entry in models:
        if isinstance(entry, dict):
            names.update(str(entry[key]) for key in ("name", "model") if entry.get(key))
    return frozenset(names)


def ollama_answers(api_base: str) -> bool:
    """Whether an Ollama (or anything speaking its protocol) answers at `api_base` (blocking)."""
    try:
        return httpx.get(f"{api_base}/api/version", timeout=PROBE_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False


class LocalCatalog:
    """A short-lived cache of `pulled_models` for one Ollama address."""

    def __init__(self, client: httpx.AsyncClient, api_base: str, ttl_s: float = CATALOG_TTL_S) -> None:
        self.api_base = api_base
        self._client = client
        self._ttl_s = ttl_s
        self._names: frozenset[str] | None = None
        self._checked_at = float("-inf")
        self._fills: dict[str, tuple[float, bool]] = {}  # name -> (when asked, has "insert")

    async def models(self) -> frozenset[str] | None:
        """The pulled model names, or None while Ollama is unreachable."""
        if time.monotonic() - self._checked_at > self._ttl_s:
            self._names = await pulled_models(self._client, self.api_base)
            self._checked_at = time.monotonic()
        return self._names

    async def has(self, name: str) -> bool:
        names = await self.models()
        # Ollama lists "gemma3:latest"; users write "gemma3" as often as not.
        return bool(names) and (name in names or f"{name}:latest" in names)  # type: ignore[operator]

    async def fills_in_middle(self, name: str) -> bool:
        """Whether Ollama says `name` can fill in the middle (its /api/show lists "insert"), cached as the list is."""
        checked = self._fills.get(name)
        if checked is None or time.monotonic() - checked[0] > self._ttl_s:
            capabilities = None
            try:
                response = await self._client.post(f"{self.api_base}/api/show", json={"model": name},
                                                   timeout=PROBE_TIMEOUT_S)
                capabilities = response.json().get("capabilities") if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError, AttributeError):
                pass  # no answer, or not Ollama's: as good as no "insert"
            checked = self._fills[name] = (time.monotonic(), isinstance(capabilities, list) and "insert" in capabilities)
        return checked[1]
