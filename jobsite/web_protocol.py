"""The HTTP protocol `jobsite.run` gives uvicorn (`--http jobsite.web_protocol:NoDelayHTTPProtocol`):
uvicorn's own (`auto`: httptools if installed, else h11) with TCP_NODELAY set on every connection.

Why: with `--workers N` uvicorn binds the listening socket itself (`Config.bind_socket()`, with
`socket.socket(family)`: protocol number 0) and hands it to its worker processes. An accepted socket
inherits that 0, and asyncio enables TCP_NODELAY only on sockets whose `proto` is IPPROTO_TCP
(`asyncio.base_events._set_nodelay`). So Nagle's algorithm stays on: uvicorn writes a response's head and
body separately, the body waits for the client to acknowledge the head, and the client delays that ACK
by ~40 ms. Every request after the first on a kept-alive connection paid it (uvicorn issue #3149; a single
`uvicorn` without `--workers` lets asyncio bind, with proto 6, and never sees it). `--fd` does not help:
uvicorn wraps the descriptor as AF_UNIX, which asyncio skips as well.

Setting the option per connection, where the protocol receives its transport, works whichever way the
listening socket was made, and is a no-op for Unix sockets; once uvicorn sets the protocol on the bound
socket, this class is redundant (and harmless) and can go.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol


class NoDelayHTTPProtocol(AutoHTTPProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # the peer is already gone: the protocol notices on its own
                pass
        super().connection_made(transport)
