"""What goes over the wire in OpenAI's dialect: requests decoded and checked, answers, errors and SSE rendered.

validate.py turns a body into the pipeline's ChatRequest (params.py checks the
parameters passed through to a model); openai_api.py writes answers, stream
events and errors back; disconnect.py notices a client that has gone. The
pipeline's respond step writes through these, so they sit below it; the next
dialects (Anthropic Messages, OpenAI Responses, Gemini) get a module each here.

May import: proxy (errors, config, chat).
"""
