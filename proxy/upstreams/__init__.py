"""Upstreams: where a call goes and how it comes back.

target.py names one model to call; relay.py relays cloud calls to OpenRouter
over one pooled connection; upstream.py sends local ones through LiteLLM's
Ollama backend (upstream_text.py for autocomplete); stream_guard.py tells a
finished stream from a cut one; litellm_errors.py is the one boundary that maps
LiteLLM's exceptions to Hermes's; ollama.py says which local models are there.

May import: proxy (errors, config, chat), wire.
"""
