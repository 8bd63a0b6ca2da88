"""What goes over the wire in each client's dialect: requests read into the pipeline's ChatRequest, answers,
stream events and errors written back.

dialect.py is the one small interface; json_codec.py decodes and encodes
bodies; openai_api.py (with validate.py and params.py) is OpenAI chat,
Hermes's own; anthropic_api.py, responses_api.py and gemini_api.py translate through LiteLLM's adapters, and anthropic_native.py
and responses_native.py let a cloud call go out in the client's own dialect
(shadow.py: what the pipeline reads of it). sse.py settles a stream exactly
once, litellm_stream.py feeds it to LiteLLM's adapters, disconnect.py notices
a client that has gone. The pipeline's respond step writes through these, so
they sit below it.

May import: proxy (errors, config, chat).
"""
