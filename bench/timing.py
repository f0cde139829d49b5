"""The product's ASGI application with a `Server-Timing: app;dur=<ms>` header on every HTTP answer: the
time from the request reaching the application to the answer's headers being sent (Django renders a page
whole before it sends them), i.e. what the server spends, without the network or the client. Only the
console benchmark serves this (`uvicorn bench.timing:application`); the product itself is unchanged.
"""

from __future__ import annotations

import time

from jobsite.asgi import application as product


async def application(scope, receive, send):
    if scope["type"] != "http":
        await product(scope, receive, send)
        return
    began = time.perf_counter()

    async def timed(message):
        if message["type"] == "http.response.start":
            took = 1000 * (time.perf_counter() - began)
            headers = [*message.get("headers", []), (b"server-timing", f"app;dur={took:.2f}".encode())]
            message = {**message, "headers": headers}
        await send(message)

    await product(scope, receive, timed)
