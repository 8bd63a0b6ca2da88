"""The pipeline: understand, plan, respond, record (steps.py), one call per step into the module that owns it.

services.py holds what every step reads; classify.py (with user_words.py)
classifies, session.py identifies the conversation and its impact, cascade.py
runs the local-first cascade (local_attempt.py: one local model's attempt
under a deadline) and decides, upgrade.py prices the upgrades, savings.py
what a local answer saved, report.py what a response says about itself.

May import: proxy (errors, config, chat), wire, storage, upstreams, judgment, money.
"""
