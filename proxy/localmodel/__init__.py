"""The embedded local model: SmolLM2 through llama.cpp, behind an Ollama-protocol server of its own.

model.py generates piece by piece in a thread; server.py serves it over
Ollama's protocol (llama_translate.py: prompts and tool calls); embedded.py
runs that server as a child process of `hermes serve` and restarts it.

May import: proxy (errors, config, chat), wire, upstreams.
"""
