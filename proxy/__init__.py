"""Hermes: a local-first, budget-aware, OpenAI-compatible proxy for AI coding assistants."""

import os

# LiteLLM fetches its price table from the internet at import unless told
# not to, and waits for it; Hermes never reaches the internet on its own.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
