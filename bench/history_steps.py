"""`make bench`: what each step that reads a whole conversation costs Hermes, per request, on OpenCode's body.

An agent resends its whole history every turn, so every step that reads
all of it is paid on every request: decoding, validation, the messages'
fingerprints (taken once, proxy/fingerprint.py), the session's digests, the
token count (every part counted before, as on a turn that goes on), the
prompt hash and the relay's body. This calls each as the pipeline does, on
bench/long_body.py's OpenCode-sized request (135 KB, 100 messages, 10 tools),
in-process; means of `--rounds` (default 500) after 20 to warm up.

    .venv/bin/python bench/history_steps.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import long_body  # bench/ itself, the script's folder

from proxy.money.estimate import count_input_tokens
from proxy.pipeline.session import identify
from proxy.wire.json_codec import decode_json, dumps
from proxy.wire.validate import parse_chat_request

MODEL = "openrouter/anthropic/claude-sonnet-4"


def mean_us(work: Callable[[], object], rounds: int) -> float:
    for _ in range(20):
        work()
    started = time.perf_counter()
    for _ in range(rounds):
        work()
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    rounds = parser.parse_args().rounds
    raw = json.dumps(long_body.conversation("anthropic/claude-sonnet-4")).encode()
    body = decode_json(raw)
    chat = parse_chat_request(body)
    headers = {"user-agent": "opencode/1.0"}
    validate = mean_us(lambda: parse_chat_request(body), rounds)
    steps = {
        "decode (orjson, then the depth and number check)": mean_us(lambda: decode_json(raw), rounds),
        "validate": validate,
        "fingerprints, once": mean_us(lambda: parse_chat_request(body).fingerprints, rounds) - validate,
        "identify the session": mean_us(lambda: identify(headers, chat.messages, chat.fingerprints), rounds),
        "count input tokens (all parts counted before)": mean_us(
            lambda: count_input_tokens(MODEL, chat.messages, chat.params.get("tools"), chat.fingerprints), rounds),
        "prompt hash": mean_us(lambda: chat.prompt_hash, rounds),
        "the relay's body": mean_us(lambda: dumps(body), rounds),
    }
    print(f"OpenCode-sized request ({len(raw) / 1000:.0f} KB, {len(chat.messages)} messages), "
          f"in-process, means of {rounds} rounds:")
    print("| step | µs |\n|---|---:|")
    for name, us in steps.items():
        print(f"| {name} | {us:.0f} |")
    print(f"| in all | {sum(steps.values()):.0f} |")


if __name__ == "__main__":
    main()
