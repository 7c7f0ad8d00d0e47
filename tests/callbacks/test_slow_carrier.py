"""A carrier that stops answering holds neither the loop nor the threads everything else needs.

A local server accepts Twilio REST connections and never answers. Many callback dials
hang on it at once; meanwhile the loop's default executor (which resolves host names
for every outgoing connection, the database's included) must stay free, and each dial
must fail within the REST timeout rather than wait for ever.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from callcenter.settings import Settings
from callcenter.telephony.twilio import rest
from callcenter.telephony.twilio.rest import TwilioDialer, make_client
from crm.services.callback_ports import DialRequest

HUNG_DIALS = 12  # twice the default executor's threads on a 2-core machine


async def _silent_server(busy: int) -> tuple[asyncio.Server, int, list[asyncio.StreamWriter],
                                             asyncio.Event]:
    """A server that answers nothing; the event is set once `busy` connections are held."""
    held: list[asyncio.StreamWriter] = []
    full = asyncio.Event()

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing, keep it open
        if len(held) >= busy:
            full.set()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], held, full


def _settings(base: str) -> Settings:
    return Settings(twilio_api_base_url=base, twilio_account_sid="AC" + "0" * 32,
                    twilio_auth_token="test-auth-token-0123456789abcdef",  # type: ignore[arg-type]
                    twilio_caller_id="+8657112345678", public_base_url="https://hotline.example.com")


async def test_dials_to_a_silent_carrier_leave_name_lookups_free_and_time_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rest, "REST_TIMEOUT_S", 3.0)  # the production 15 s, shortened
    server, port, held, full = await _silent_server(min(HUNG_DIALS, rest.REST_THREADS))
    dialer = TwilioDialer(_settings(f"http://127.0.0.1:{port}"))
    loop = asyncio.get_running_loop()
    try:
        started = time.perf_counter()
        dials = [asyncio.ensure_future(dialer.dial(DialRequest(f"a-{i}", i, "+8613800138000", "",
                                                               "post_repair_survey", 30)))
                 for i in range(HUNG_DIALS)]
        await asyncio.wait_for(full.wait(), 30)
        lookup_started = time.perf_counter()
        await asyncio.wait_for(loop.getaddrinfo("localhost", 5432), 2.0)
        await asyncio.wait_for(asyncio.to_thread(lambda: None), 2.0)
        lookup_took = time.perf_counter() - lookup_started
        results = await asyncio.wait_for(asyncio.gather(*dials, return_exceptions=True), 60)
        took = time.perf_counter() - started
    finally:
        server.close()
        for writer in held:
            writer.close()
    assert lookup_took < 2.0
    assert all(isinstance(r, Exception) for r in results), results
    # REST_THREADS at a time, each giving up after REST_TIMEOUT_S
    assert took < 3.0 * (HUNG_DIALS // rest.REST_THREADS + 1) + 10, took


def test_the_client_for_the_real_twilio_has_a_timeout() -> None:
    client = make_client(_settings("https://api.twilio.com"))
    assert client.http_client.timeout == rest.REST_TIMEOUT_S
