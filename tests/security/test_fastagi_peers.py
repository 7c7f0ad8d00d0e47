"""FastAGI serves only the configured PBXes (FASTAGI_ALLOWED_PEERS, default loopback)."""

from __future__ import annotations

import asyncio

from callcenter.settings import Settings
from callcenter.telephony.asterisk.fastagi import FastAgiServer
from tests.conftest import free_port
from tests.security.conftest import Serve

AGI_REQUEST = (b"agi_network: yes\nagi_network_script: no-such-script\nagi_request: "
               b"agi://127.0.0.1/no-such-script\nagi_channel: PJSIP/trunk-1\nagi_uniqueid: 1.1\n"
               b"agi_callerid: 13800138000\n\n")


async def _what_the_server_says(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(AGI_REQUEST)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.readline(), 5)
    except ConnectionResetError:  # closed with our request unread: nothing was said
        return b""
    finally:
        writer.close()


def test_by_default_only_this_machine_may_connect() -> None:
    assert Settings(_env_file=None).fastagi_allowed_peers == "127.0.0.1,::1"  # type: ignore[call-arg]


async def test_a_pbx_outside_the_allowed_peers_is_closed_unanswered(serve: Serve) -> None:
    port = free_port()
    async with serve(fastagi_enabled=True, fastagi_port=port, fastagi_allowed_peers="10.20.0.0/16"):
        assert await _what_the_server_says(port) == b""


async def test_an_allowed_pbx_is_served(serve: Serve) -> None:
    port = free_port()
    async with serve(fastagi_enabled=True, fastagi_port=port, fastagi_allowed_peers="10.20.0.0/16,127.0.0.1"):
        said = await _what_the_server_says(port)
    assert said.startswith(b"SET VARIABLE IVR_ACTION")  # an unknown script: the safe fallback


async def test_an_ipv4_mapped_peer_matches_its_ipv4_network() -> None:
    from callcenter.networks import address_in, parse_networks

    assert address_in("::ffff:10.20.1.2", parse_networks("10.20.0.0/16"))
    assert not address_in("10.21.1.2", parse_networks("10.20.0.0/16"))
    server = FastAgiServer({}, port=0, allowed_peers=parse_networks("127.0.0.1"))
    assert server.allowed_peers is not None
