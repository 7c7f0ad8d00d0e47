"""A fake Asterisk Manager Interface on a real TCP port: answers every action, sends the events we say.

Enough of AMI for the service's client: the greeting, `Response: Success` to
every action (Pong to Ping, an empty list to CoreShowChannels), and
`send_event(...)` to push an event to every logged-in client.
"""

from __future__ import annotations

import asyncio
import contextlib


class FakeAmi:
    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.logged_in = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                fields = dict(
                    line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                )
                action, action_id = fields.get("Action", ""), fields.get("ActionID", "")
                if action == "CoreShowChannels":
                    writer.write(self._msg(Response="Success", ActionID=action_id, EventList="start",
                                           Message="Channels will follow"))
                    writer.write(self._msg(Event="CoreShowChannelsComplete", ActionID=action_id,
                                           EventList="Complete", ListItems="0"))
                elif action == "Ping":
                    writer.write(self._msg(Response="Success", ActionID=action_id, Ping="Pong"))
                else:
                    writer.write(self._msg(Response="Success", ActionID=action_id, Message="ok"))
                    if action == "Login":
                        self.writers.append(writer)
                        self.logged_in.set()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.writers.remove(writer)
            writer.close()

    @staticmethod
    def _msg(**fields: str) -> bytes:
        return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()

    async def send_event(self, name: str, **fields: str) -> None:
        data = self._msg(Event=name, **fields)
        for writer in list(self.writers):
            writer.write(data)
            await writer.drain()
