"""HTTP hardening on a real port: security headers everywhere, Secure cookies behind https,
slow clients cut off (head and body), oversized bodies refused."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time

import aiohttp
import pytest

from callcenter.storage.engine import Database
from callcenter.web.security_headers import CSP
from tests import factories
from tests.security.conftest import Serve, login


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/app.css", "/no-such-page", "/api/me",
                                  "/agent", "/complaint"])
async def test_every_response_carries_the_security_headers(serve: Serve, path: str) -> None:
    async with serve() as served, aiohttp.ClientSession() as http, \
            http.get(served.base_url + path, allow_redirects=False) as resp:
        headers = resp.headers
    assert headers["Content-Security-Policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self';" in CSP
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in headers


async def test_behind_https_cookies_are_secure_and_hsts_is_sent(serve: Serve, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with serve() as served:
        served.settings.public_base_url = "https://hotline.example.com"  # what browsers use
        async with aiohttp.ClientSession() as http:
            async with http.get(served.base_url + "/login") as resp:
                page = await resp.text()
                form_cookie = resp.headers.getall("Set-Cookie")
                assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            nonce = form_cookie[0].split(";")[0].split("=", 1)[1]
            async with http.post(served.base_url + "/login", allow_redirects=False, data={
                    "csrf_token": token.group(1), "username": "agent-wu",
                    "password": factories.PASSWORD}, headers={"Cookie": f"cc_form={nonce}"}) as resp:
                assert resp.status == 302
                session_cookie = resp.headers.getall("Set-Cookie")
    assert all("Secure" in c for c in form_cookie + session_cookie)


async def test_plain_http_cookies_are_not_marked_secure(serve: Serve, db: Database) -> None:
    async with serve() as served, aiohttp.ClientSession() as http, \
            http.get(served.base_url + "/login") as resp:
        assert all("Secure" not in c for c in resp.headers.getall("Set-Cookie"))


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> tuple[bytes, float]:
    """Read until the server closes; (what it said, when it closed)."""
    started = time.perf_counter()
    data = await asyncio.wait_for(reader.read(), seconds)
    return data, time.perf_counter() - started


async def test_a_client_trickling_its_request_head_is_cut_off(serve: Serve) -> None:
    async with serve(http_header_timeout_s=1.0) as served:
        port = int(served.base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        writer.write(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for _ in range(20):  # one header line every 0.3 s, never the blank line
            await asyncio.sleep(0.3)
            if reader.at_eof():
                closed = True
                break
            writer.write(b"X-Slow: 1\r\n")
            try:
                await writer.drain()
            except ConnectionError:
                closed = True
                break
        if not closed:
            await _closed_within(reader, 1.0)
        elapsed = time.perf_counter() - started
        writer.close()
    assert elapsed < 3.0, f"slow head held the connection {elapsed:.1f} s (timeout 1 s)"


async def test_a_client_trickling_its_body_gets_408_and_is_closed(serve: Serve) -> None:
    async with serve(http_body_timeout_s=1.0) as served:
        port = int(served.base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 1000\r\n\r\nusername=a")
        await writer.drain()
        started = time.perf_counter()
        answer = b""
        for _ in range(20):
            try:
                answer += await asyncio.wait_for(reader.read(4096), 0.3)
                if answer:
                    break
            except TimeoutError:
                writer.write(b"a")  # one byte every 0.3 s
                await writer.drain()
        elapsed = time.perf_counter() - started
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"Connection: close" in answer
    assert elapsed < 3.0


async def test_a_body_over_the_limit_is_refused_with_413(serve: Serve, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with serve(http_max_body_bytes=4096) as served, aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(served.base_url + "/login", data={"username": "a" * 10_000}) as resp:
            assert resp.status == 413
        assert (await login(http, served.base_url, "agent-wu", factories.PASSWORD))[0] == 302


async def _trickle_body(port: int, head: bytes) -> bytes:
    """Send `head` and a body promised 1000 bytes long one byte every 0.3 s; the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + b"Content-Length: 1000\r\n\r\n{")
    await writer.drain()
    answer = b""
    for _ in range(20):
        try:
            answer += await asyncio.wait_for(reader.read(4096), 0.3)
            if answer:
                break
        except TimeoutError:
            writer.write(b" ")
            await writer.drain()
    await asyncio.sleep(0.2)  # let the server finish logging the request
    writer.close()
    return answer


@pytest.mark.parametrize("head", [
    b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n",
    b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Authorization: Bearer no-such-token\r\n",
    b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"X-Twilio-Signature: c2lnbmVk\r\n",
], ids=["login-form", "api-json", "twilio-webhook"])
async def test_a_slow_body_is_logged_once_as_a_client_timeout_not_as_an_error(
        serve: Serve, caplog: pytest.LogCaptureFixture, head: bytes) -> None:
    async with serve(http_body_timeout_s=1.0) as served:
        with caplog.at_level(logging.DEBUG):
            answer = await _trickle_body(int(served.base_url.rsplit(":", 1)[1]), head)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    timeouts = [r for r in caplog.records if "slowly" in r.getMessage() or "timeout" in r.getMessage().lower()]
    errors = [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records
              if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, errors
    assert len(timeouts) == 1, [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records]
    assert timeouts[0].levelno in (logging.INFO, logging.WARNING)


async def test_a_client_that_stops_reading_is_disconnected(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    """A slow-read attack: many pipelined requests for a large public answer, nothing read.
    Without the send watch the handler waits on the full buffers for good (holding the
    answers in memory); with it the connection is aborted once nothing was taken for a whole
    HTTP_SEND_TIMEOUT_S."""
    caplog.set_level(logging.WARNING, logger="callcenter.web.slow_clients")
    async with serve(http_send_timeout_s=0.5) as served:
        async with aiohttp.ClientSession() as http, \
                http.get(served.base_url + "/api/openapi.json") as resp:
            one_answer = len(await resp.read())
        port = int(served.base_url.rsplit(":", 1)[1])
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, as a reader
        sock.connect(("127.0.0.1", port))                          # that never reads would leave
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        asked = 300
        writer.write(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n" * asked)
        await writer.drain()
        await asyncio.sleep(3)  # read nothing: the server's buffers fill, then it waits on us
        received, ended = 0, False
        try:
            while chunk := await asyncio.wait_for(reader.read(1 << 16), 10):
                received += len(chunk)
            ended = True
        except ConnectionError:
            ended = True
        writer.close()
    assert ended, "the connection stayed open"
    assert received < asked * one_answer / 2, f"{received} bytes: the server sent everything"
    cut = [r for r in caplog.records if "took nothing" in r.getMessage()]
    assert len(cut) == 1 and cut[0].levelno == logging.WARNING
