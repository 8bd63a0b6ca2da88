"""A mock OpenRouter whose streams pace their chunks (nginx cannot), for bench/proxy_compare.py.

`python bench/paced_upstream.py --port P [--interval 0.02] [--chunks 10]`

HTTP/1.1 with keep-alive on 127.0.0.1. `POST .../chat/completions` with
`"stream": true` answers a chunked SSE stream: the first content chunk at
once, then one event every `--interval` seconds (content chunks, the finish,
the usage with cost, [DONE]). Each content chunk's text is `t=<send time>;`,
the CLOCK_MONOTONIC time (time.monotonic) taken just before it is written,
so a client on this machine can tell how long the chunk took to reach it.
Anything else under `/chat/completions` gets the canned JSON answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import mock_bodies

NOT_FOUND = b'{"error":{"message":"not found","code":404}}'


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, interval: float, chunks: int) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            body = await read_body(reader, headers)
            close = headers.get("connection", "").lower() == "close"
            if method == "POST" and path.split("?")[0].endswith("/chat/completions"):
                if wants_stream(body):
                    await paced_stream(writer, interval, chunks, close)
                else:
                    respond(writer, 200, "application/json", mock_bodies.completion(), close)
            else:
                respond(writer, 404, "application/json", NOT_FOUND, close)
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                return b"".join(p[:-2] for p in parts)
    return await reader.readexactly(int(headers.get("content-length", "0")))


def wants_stream(body: bytes) -> bool:
    try:
        return json.loads(body or b"{}").get("stream") is True
    except (ValueError, AttributeError):
        return False


def respond(writer: asyncio.StreamWriter, status: int, content_type: str, body: bytes, close: bool) -> None:
    reason = "OK" if status == 200 else "Not Found"
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode() + body)


async def paced_stream(writer: asyncio.StreamWriter, interval: float, chunks: int, close: bool) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                 b"Transfer-Encoding: chunked\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n")
    start = time.monotonic()
    tail = [mock_bodies.chunk(None, finish=True), mock_bodies.usage_chunk(), "[DONE]"]
    for i in range(chunks + len(tail)):
        await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
        if i < chunks:
            data = mock_bodies.event(mock_bodies.chunk(f"t={time.monotonic():.6f};", first=i == 0))
        else:
            data = mock_bodies.event(tail[i - chunks])
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await writer.drain()
    writer.write(b"0\r\n\r\n")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--chunks", type=int, default=10)
    args = parser.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args.interval, args.chunks), "127.0.0.1", args.port,
                                        limit=16 * 1024 * 1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
