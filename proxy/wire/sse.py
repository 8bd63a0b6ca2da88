"""A stream of chat chunks, settled exactly once: what every dialect's stream is written from.

The pipeline streams OpenAI `chat.completion.chunk` dicts whatever the
client's dialect. `settled` passes them on as they arrive, except the
stream's ending (the chunk with the finish_reason, the one with the usage,
and anything after them), which is held until the stream ends so that the
last chunk can carry the "hermes" field: that needs the usage, and so comes
last. `settle` is called exactly once, when the stream ends, fails, or its
client goes away; a dialect's module only renders what comes out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from proxy.errors import ClientClosed, HermesError

# How long the end of a stream may take to close its upstream and settle its money.
CLOSE_TIMEOUT_S = 30.0

# Called once when a stream ends: with the usage seen (if any) and the error
# that ended it (if any); returns the "hermes" field for the final chunk.
Settle = Callable[[dict[str, Any] | None, HermesError | None], Awaitable[dict[str, Any]]]


async def settled(chunks: AsyncIterator[dict[str, Any]], include_usage: bool, settle: Settle
                  ) -> AsyncIterator[dict[str, Any] | HermesError]:
    """`chunks`, the last one with a "hermes" field; or, if the stream fails, the chunks so far and then its error.

    Usage is what Hermes asks every upstream for; a client that did not ask
    for it (`stream_options.include_usage`) gets none. The error, when there
    is one, is the last item: the caller writes it in its dialect.
    """
    held: list[dict[str, Any]] = []  # the stream's ending, until it ends
    usage: dict[str, Any] | None = None
    done = False
    try:
        try:
            async for chunk in chunks:
                if chunk.get("usage") is not None:
                    usage = chunk["usage"]
                    if not include_usage:
                        chunk = {key: value for key, value in chunk.items() if key != "usage"}
                        if not chunk["choices"]:
                            continue
                    held.append(chunk)
                elif held or any(choice.get("finish_reason") for choice in chunk["choices"]):
                    held.append(chunk)
                else:
                    yield chunk
        except HermesError as error:
            for chunk in held:
                yield chunk
            done = True
            await settle(usage, error)
            yield error
            return
        done = True
        hermes = await settle(usage, None)
        if held:
            *ending, last = held
            for chunk in ending:
                yield chunk
            yield last | {"hermes": hermes}
    finally:
        # Shielded (and bounded): when the client goes away this runs inside a cancelled scope.
        with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()  # stop the upstream call: nobody will read what it generates
            if not done:  # the client went away mid-stream
                await settle(usage, ClientClosed("The client closed the connection mid-stream."))
