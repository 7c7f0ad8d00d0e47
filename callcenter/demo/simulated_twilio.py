"""A simulated Twilio caller: signed webhooks to a running server, TwiML followed.

Used by the tests, by `callcenter demo` and by the bench. It behaves like
Twilio's side of one call: POSTs ``/twilio/voice`` with the usual parameters,
signs every request as Twilio does (``X-Twilio-Signature`` over the public
URL and the parameters), parses the TwiML it gets back and follows it:
``<Say>`` is heard, ``<Gather>`` takes the next scripted input and posts it
to the action URL, ``<Record>`` posts a recording (or, on silence, falls
through to the ``<Redirect>``), ``<Dial>``/``<Enqueue>`` hand the call to
agents (whose answer, or not, is scripted too), ``<Hangup>`` ends the call.
When the script runs out while the IVR waits, the caller hangs up. At the
end the ``completed`` status callback is sent with the call's duration.

Guarantees: no key is sent that the TwiML did not ask for; every request
and its latency is kept on the `CallResult`, so tests can replay one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

from callcenter.settings import Settings
from callcenter.telephony.twilio.signature import signed_headers
from crm.enums import Carrier
from crm.services.callback_ports import DialLookup, DialRequest, DialStarted, PlacedAttempt

ACCOUNT_SID = "AC" + "0" * 32
HOTLINE_NUMBER = "+864008001234"


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: In a script: the caller hangs up at this point.
HANGUP = _Marker("HANGUP")
#: In a script: the caller says / presses nothing (Gather posts Digits='').
SILENCE = ""


@dataclass(frozen=True)
class Speak:
    """In a script: the caller talks into a ``<Record>`` for `seconds`."""

    seconds: int = 12


ScriptItem = str | Speak | _Marker
AgentReply = Literal["answer", "no-answer", "abandon"]


@dataclass(frozen=True)
class Exchange:
    """One webhook: where it went, what was sent, what came back, how long it took."""

    url: str
    params: dict[str, str]
    status: int
    body: str
    latency_s: float


@dataclass
class CallResult:
    call_sid: str
    said: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    ended_by: str = ""  # "twiml-hangup", "caller", "transfer", "document-end", "http-<status>"
    transfer: str | None = None  # "dial:client:agents", "enqueue:hotline-agents"
    unused: tuple[ScriptItem, ...] = ()

    @property
    def steps(self) -> int:
        return len(self.exchanges)

    @property
    def latencies(self) -> list[float]:
        return [e.latency_s for e in self.exchanges]

    def last(self, path: str) -> Exchange:
        """The latest request sent to `path` (e.g. '/twilio/gather')."""
        for exchange in reversed(self.exchanges):
            if path in exchange.url:
                return exchange
        raise LookupError(f"no request to {path} in this call")


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


class SimulatedCaller:
    """One caller on one hotline number, talking to a server at `base_url`.

    `base_url` is the server's public URL (what Twilio signs); `connect_url`
    is where requests really go when that differs (a proxy in between).
    `direction="outbound-api"` makes it the callee of a call we placed
    (`From` is then our number, `To` the callee's).
    """

    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, auth_token: str, *,
        from_number: str = "+8613800138000", to_number: str = HOTLINE_NUMBER,
        call_sid: str | None = None, connect_url: str | None = None,
        direction: str = "inbound", agent_identity: str = "agents",
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.connect_url = (connect_url or base_url).rstrip("/")
        self.auth_token = auth_token
        self.from_number = from_number
        self.to_number = to_number
        self.call_sid = call_sid or new_call_sid()
        self.direction = direction
        #: the client identity that answers (or rings out) when the caller waits in a conference
        self.agent_identity = agent_identity

    # -- the request primitives ------------------------------------------------------------

    def params(self, **extra: str) -> dict[str, str]:
        """Parameters Twilio sends with every voice webhook of this call."""
        return {
            "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.call_sid,
            "From": self.from_number, "To": self.to_number, "Caller": self.from_number,
            "Called": self.to_number, "Direction": self.direction, "CallStatus": "in-progress",
            **extra,
        }

    async def post(
        self, url_or_path: str, params: Mapping[str, str], *, signature: str | None = None,
        signed: bool = True,
    ) -> Exchange:
        """POST one webhook; `signature` forges the header, `signed=False` leaves it out."""
        url = url_or_path if "://" in url_or_path else self.base_url + url_or_path
        headers = signed_headers(self.auth_token, url, params) if signed else {}
        if signature is not None:
            headers = {"X-Twilio-Signature": signature}
        target = self.connect_url + url[len(self.base_url):] if url.startswith(self.base_url) else url
        started = time.perf_counter()
        async with self.http.post(target, data=dict(params), headers=headers) as response:
            body = await response.text()
        return Exchange(url, dict(params), response.status, body, time.perf_counter() - started)

    async def replay(self, exchange: Exchange) -> Exchange:
        """Send the very same webhook again (Twilio retries; an attacker replays)."""
        return await self.post(exchange.url, exchange.params)

    async def status(self, call_status: str, result: CallResult | None = None,
                     duration_s: int | None = None, url: str = "/twilio/status") -> Exchange:
        """The status callback to `url` (a path, or the full URL given with the call)."""
        extra = {"CallStatus": call_status}
        if duration_s is not None:
            extra["CallDuration"] = str(duration_s)
        exchange = await self.post(url, self.params(**extra))
        if result is not None:
            result.exchanges.append(exchange)
        return exchange

    # -- a whole call ----------------------------------------------------------------------

    async def call(
        self, script: Iterable[ScriptItem], *, agent: AgentReply = "answer",
        talk_s: int = 60, send_status: bool = True, think_s: float = 0.0,
        answer_url: str = "/twilio/voice", status_url: str = "/twilio/status",
    ) -> CallResult:
        """Ring the hotline, follow its TwiML with the scripted inputs, then hang up.

        `think_s` is how long the caller listens and thinks before each next
        webhook (a load test's pacing); the tests leave it at 0. For a call we
        placed, `answer_url` and `status_url` are the URLs given to calls.create."""
        result = CallResult(self.call_sid)
        inputs: deque[ScriptItem] = deque(script)
        first_status = "in-progress" if self.direction.startswith("outbound") else "ringing"
        exchange = await self.post(answer_url, self.params(CallStatus=first_status))
        while True:
            result.exchanges.append(exchange)
            if exchange.status != 200:
                result.ended_by = f"http-{exchange.status}"
                break
            if think_s:
                await asyncio.sleep(think_s)
            following = await self._follow(exchange.body, inputs, result, agent, talk_s)
            if following is None:
                break
            exchange = following
        result.unused = tuple(inputs)
        if send_status:
            await self.status("completed", result, duration_s=5 * len(result.exchanges),
                              url=status_url)
        return result

    async def _follow(
        self, body: str, inputs: deque[ScriptItem], result: CallResult, agent: AgentReply,
        talk_s: int,
    ) -> Exchange | None:
        """Play one TwiML document; the next webhook's answer, or None when the call is over."""
        root = ET.fromstring(body)
        for verb in root:
            if verb.tag == "Say":
                result.said.append(verb.text or "")
            elif verb.tag == "Gather":
                result.said.extend(s.text or "" for s in verb if s.tag == "Say")
                item = _next_input(inputs)
                if item is HANGUP or isinstance(item, Speak):
                    result.ended_by = "caller"
                    return None
                assert isinstance(item, str)
                return await self.post(verb.attrib["action"], self.params(Digits=item))
            elif verb.tag == "Record":
                item = _next_input(inputs)
                if item is HANGUP:
                    result.ended_by = "caller"
                    return None
                if isinstance(item, Speak):
                    return await self.post(verb.attrib["action"], self.params(
                        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
                                     f"/Recordings/RE{uuid.uuid4().hex}",
                        RecordingDuration=str(item.seconds), RecordingSid="RE" + uuid.uuid4().hex,
                        Digits="#"))
                # silence: Twilio records nothing and goes on to the next verb
            elif verb.tag == "Redirect":
                return await self.post((verb.text or "").strip(), self.params())
            elif verb.tag in ("Dial", "Enqueue"):
                return await self._to_agents(verb, result, agent, talk_s)
            elif verb.tag == "Hangup":
                result.ended_by = "transfer" if result.transfer else "twiml-hangup"
                return None
        result.ended_by = result.ended_by or "document-end"
        return None

    async def _to_agents(self, verb: ET.Element, result: CallResult, agent: AgentReply,
                         talk_s: int) -> Exchange | None:
        if verb.tag == "Enqueue":
            result.transfer = f"enqueue:{(verb.text or '').strip()}"
        else:
            noun = next(iter(verb), None)
            result.transfer = f"dial:{noun.tag.lower()}:{(noun.text or '').strip()}" if noun is not None \
                else "dial:"
            if noun is not None and noun.tag == "Conference":
                return await self._conference(verb, noun, result, agent)
        result.ended_by = "transfer"
        action = verb.attrib.get("action")
        if not action:
            return None
        if verb.tag == "Enqueue":
            reply = {"answer": {"QueueResult": "bridged", "QueueTime": "8"},
                     "no-answer": {"QueueResult": "error", "QueueTime": "300"},
                     "abandon": {"QueueResult": "hangup", "QueueTime": "30"}}[agent]
        else:
            reply = {"answer": {"DialCallStatus": "completed", "DialCallDuration": str(talk_s),
                                "DialCallSid": new_call_sid()},
                     "no-answer": {"DialCallStatus": "no-answer"},
                     "abandon": {"DialCallStatus": "canceled"}}[agent]
        exchange = await self.post(action, self.params(**reply))
        if agent == "abandon":  # the caller is gone: Twilio ignores what comes back
            result.exchanges.append(exchange)
            return None
        return exchange

    def conference_event(self, event: str, conference: str, *, participant: str | None = None,
                         label: str = "caller", conference_sid: str = "") -> dict[str, str]:
        """The parameters of one conference status callback about this call's conference."""
        return {
            "AccountSid": ACCOUNT_SID, "ConferenceSid": conference_sid or conference_sid_of(conference),
            "FriendlyName": conference, "StatusCallbackEvent": event,
            "CallSid": participant or self.call_sid, "ParticipantLabel": label,
            "Muted": "false", "Hold": "true" if event == "participant-hold" else "false",
            "Coaching": "false", "EndConferenceOnExit": "true", "StartConferenceOnEnter": "false",
            "SequenceNumber": "1",
        }

    async def _conference(self, verb: ET.Element, noun: ET.Element, result: CallResult,
                          agent: AgentReply) -> Exchange | None:
        """Twilio's side of ``<Dial><Conference>``: the caller joins; the agent who was rung
        (`agent_identity`) joins, or their leg rings out, or the caller hangs up first."""
        name = (noun.text or "").strip()
        callback = noun.attrib.get("statusCallback", "")
        result.ended_by = "transfer"
        if callback:
            result.exchanges.append(await self.post(callback, self.conference_event(
                "participant-join", name)))
            if agent == "answer":
                result.exchanges.append(await self.post(callback, self.conference_event(
                    "participant-join", name, participant=new_call_sid(),
                    label=f"agent:{self.agent_identity}")))
            elif agent == "no-answer":  # the rung agent's leg reports it rang out
                query = dict(parse_qsl(urlsplit(callback).query))
                leg = (f"{self.base_url}/twilio/agent-leg?"
                       + urlencode({"call": self.call_sid, "queue": query.get("queue", ""),
                                    "agent": self.agent_identity}))
                result.exchanges.append(await self.post(leg, {
                    "AccountSid": ACCOUNT_SID, "CallSid": new_call_sid(), "CallStatus": "no-answer",
                    "From": self.from_number, "To": f"client:{self.agent_identity}",
                    "Direction": "outbound-api"}))
                return None  # Twilio now plays what the app put on the call
        action = verb.attrib.get("action")
        if not action:
            return None
        exchange = await self.post(action, self.params(DialCallStatus="answered"))
        result.exchanges.append(exchange)
        return None
def conference_sid_of(name: str) -> str:
    """A stable ConferenceSid for a conference name (as Twilio keeps one per live conference)."""
    return "CF" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex


def _next_input(inputs: deque[ScriptItem]) -> ScriptItem:
    return inputs.popleft() if inputs else HANGUP


# -- the outbound side: a simulated carrier for callbacks -------------------------------------


@dataclass(frozen=True)
class Callee:
    """How one simulated callee takes our call: answers and presses `keys`, or does not."""

    picks_up: Literal["answer", "busy", "no-answer", "failed"] = "answer"
    keys: tuple[ScriptItem, ...] = ()


@dataclass
class PlacedCall:
    """One call the simulated carrier placed, as Twilio's Call resource would show it."""

    sid: str
    request: DialRequest
    status: str = "queued"
    result: CallResult | None = None


class SimulatedTwilioCarrier:
    """A `Dialer` (crm.services.callback_ports) that places calls on a simulated Twilio.

    `dial` answers at once with a CallSid, as calls.create does, and the call
    goes on in the background like a real one: the callee answers (a signed
    POST to the same `/twilio/callback-flow?flow=&attempt=` URL the
    `TwilioDialer` gives Twilio), follows the TwiML pressing its keys, hangs
    up, and a signed status callback (`/twilio/status?attempt=`) reports
    `completed`; or the callee is busy / does not answer and only that status
    callback comes. `lookup` answers from the carrier's own record of the
    call, so the dispatcher's reconcile works as against Twilio. `settle()`
    waits for every call in flight; `close()` hangs them all up.
    """

    carrier: str = Carrier.TWILIO

    def __init__(self, http: aiohttp.ClientSession, settings: Settings,
                 callees: Mapping[str, Callee], *, unknown: Callee = Callee("no-answer")) -> None:
        self.http = http
        self.settings = settings
        self.callees = dict(callees)
        self.unknown = unknown
        self.calls: dict[str, PlacedCall] = {}  # attempt id -> call
        self._tasks: set[asyncio.Task[None]] = set()

    async def dial(self, req: DialRequest) -> DialStarted:
        placed = PlacedCall(new_call_sid(), req)
        self.calls[req.attempt_id] = placed
        task = asyncio.create_task(self._ring(placed), name=f"simulated-call-{placed.sid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return DialStarted(self.carrier, placed.sid)

    async def lookup(self, attempt: PlacedAttempt) -> DialLookup | None:
        from callcenter.telephony.twilio.rest import lookup_of

        placed = self.calls.get(attempt.attempt_id)
        return None if placed is None else lookup_of(placed.status, placed.sid)

    async def settle(self) -> None:
        """Wait until every call placed so far has ended and reported its status."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _ring(self, placed: PlacedCall) -> None:
        from callcenter.telephony.twilio.rest import status_callback_url
        from callcenter.telephony.twilio.webhooks import callback_flow_url

        req = placed.request
        callee = self.callees.get(req.number, self.unknown)
        caller = SimulatedCaller(
            self.http, self.settings.public_base_url,
            self.settings.twilio_auth_token.get_secret_value(),
            from_number=req.caller_id or self.settings.twilio_caller_id or HOTLINE_NUMBER,
            to_number=req.number, call_sid=placed.sid, direction="outbound-api")
        status_url = status_callback_url(self.settings, req.attempt_id)
        placed.status = "ringing"
        if callee.picks_up != "answer":
            placed.status = callee.picks_up
            await caller.status(callee.picks_up, url=status_url)
            return
        placed.status = "in-progress"
        placed.result = await caller.call(
            callee.keys, send_status=False,
            answer_url=callback_flow_url(self.settings, req.flow, req.attempt_id))
        placed.status = "completed"
        await caller.status("completed", placed.result,
                            duration_s=5 * placed.result.steps, url=status_url)
