"""The hotline over FastAGI: `HotlineDriver` turns rendered as AGI commands.

Routes (script path of the AGI URL):
- `hotline` -- inbound. AGI args: `${CHANNEL(linkedid)}` (the carrier call id;
  asked with GET VARIABLE when absent, since Asterisk 22 sends no
  `agi_linkedid`).
- `callback` -- outbound flows. AGI args: linkedid, flow, attempt id, number;
  missing ones are read from the channel variables the dialer set
  (CALLBACK_FLOW, CALLBACK_ATTEMPT, CALLBACK_NUMBER).
- `queue-result` -- the dialplan after `Queue()` (and in `h`): args linkedid,
  `${QUEUESTATUS}` [, `hangup`]; a queue that gave up settles the call as
  timeout/overflow, and without the AMI client a hang-up in the queue ends it.

Guarantees:
- Keys are never lost between commands: while the caller may press keys a
  GET DATA / STREAM FILE (with escape digits) is pending; a key that
  interrupts a lead prompt is the first key of the collection.
- A prompt file missing on the Asterisk side (GET DATA answers -1 at once)
  is retried as a bare GET DATA, so the caller can still key in; a dead
  channel then shows up as 511 -> CallerGone.
- A transfer sets IVR_ACTION=queue, IVR_QUEUE, IVR_PATH, IVR_REASON and
  returns to the dialplan; Asterisk keeps the call.
- The caller hanging up at any moment ends the session through
  `HotlineDriver.hangup`: partial complaint / incomplete survey saved.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from callcenter.hotline.turns import HotlineDriver, Turn
from callcenter.telephony.asterisk import agi_commands as agi
from callcenter.telephony.asterisk.agi_protocol import AgiRequest, AgiResponse
from callcenter.telephony.asterisk.fastagi import AgiChannel, AgiHandler, CallerGone
from crm.enums import CallDisposition, Carrier, Direction
from crm.services import calls
from ivr import events as ev
from ivr import render_agi as r

log = logging.getLogger(__name__)
ASTERISK = Carrier.ASTERISK
# ${QUEUESTATUS} -> how the queue gave up (kpi.md: timeout / overflow, counted apart).
QUEUE_GAVE_UP: dict[str, CallDisposition] = {
    "TIMEOUT": CallDisposition.TIMEOUT,
    "FULL": CallDisposition.OVERFLOW,
    "JOINEMPTY": CallDisposition.OVERFLOW,
    "LEAVEEMPTY": CallDisposition.OVERFLOW,
    "JOINUNAVAIL": CallDisposition.OVERFLOW,
    "LEAVEUNAVAIL": CallDisposition.OVERFLOW,
}
SAMPLE_RATE = 8000  # RECORD FILE endpos counts samples at 8 kHz


def _arg(request: AgiRequest, index: int) -> str | None:
    return request.args[index] if len(request.args) > index and request.args[index] else None


async def linkedid_of(channel: AgiChannel, request: AgiRequest) -> str:
    """The carrier call id: AGI arg 1, else CHANNEL(linkedid), else the channel's uniqueid."""
    return (_arg(request, 0) or request.linkedid
            or await channel.get_variable("CHANNEL(linkedid)") or request.uniqueid)


@dataclass
class HotlineAgi:
    driver: HotlineDriver
    sounds_prefix: str = ""
    recordings_dir: Path = Path("var/recordings")
    #: end the call when the caller hangs up in the queue (only without AMI: with it,
    #: LINKEDID_END ends the call after AgentConnect was seen, never before)
    end_on_queue_hangup: bool = False

    def routes(self) -> dict[str, AgiHandler]:
        return {"hotline": self.hotline, "callback": self.callback,
                "queue-result": self.queue_result}

    # -- routes -----------------------------------------------------------------------------

    async def hotline(self, channel: AgiChannel, request: AgiRequest) -> None:
        linkedid = await linkedid_of(channel, request)
        turn = await self.driver.begin(
            ASTERISK, linkedid, from_number=request.callerid,
            to_number=request.dnid or request.extension or None,
        )
        await self.converse(channel, linkedid, turn)

    async def callback(self, channel: AgiChannel, request: AgiRequest) -> None:
        linkedid = await linkedid_of(channel, request)
        # no flow named: the driver plays the callback's own flow (never the inbound menu)
        flow = _arg(request, 1) or await channel.get_variable("CALLBACK_FLOW") or None
        attempt = _arg(request, 2) or await channel.get_variable("CALLBACK_ATTEMPT")
        number = _arg(request, 3) or await channel.get_variable("CALLBACK_NUMBER")
        try:
            turn = await self.driver.begin(
                ASTERISK, linkedid, from_number=request.callerid, to_number=number or None,
                flow=flow, callback_attempt_id=attempt, direction=Direction.OUTBOUND,
                caller_number=number,
            )
        except ValueError:
            log.error("no outbound IVR flow %r; hanging up politely", flow)
            await channel.set_variable("IVR_ACTION", "hangup")
            return
        # the dialplan runs this route only once the callee has answered
        await calls.mark_answered(turn.call_id, self.driver.clock(), None,
                                  self.driver.store.unit_of_work())
        self.driver.written_elsewhere(ASTERISK, linkedid)
        await self.converse(channel, linkedid, turn)

    async def queue_result(self, channel: AgiChannel, request: AgiRequest) -> None:
        linkedid = await linkedid_of(channel, request)
        status = (_arg(request, 1) or "").upper()
        uow = self.driver.store.unit_of_work()
        try:
            call = await calls.get_call(ASTERISK, linkedid, uow)
        except calls.UnknownCall:
            log.warning("queue result %s for a call we never saw", status)
            return
        now = self.driver.clock()
        disposition = QUEUE_GAVE_UP.get(status)
        hung_up = _arg(request, 2) == "hangup" and self.end_on_queue_hangup
        if disposition is not None or hung_up:
            await calls.end_call(call.id, now, self.driver.store.unit_of_work(),
                                 disposition=disposition)

    # -- one call ---------------------------------------------------------------------------

    async def converse(self, channel: AgiChannel, linkedid: str, turn: Turn) -> None:
        """Render turns and feed the caller's answers until the IVR session ends."""
        try:
            while True:
                steps = r.plan(turn.media, language=turn.language, sounds_prefix=self.sounds_prefix)
                event = await self.perform(channel, linkedid, steps)
                if event is None:
                    break
                turn = await self.driver.feed(ASTERISK, linkedid, event,
                                              expected_version=turn.version)
        except CallerGone:
            log.info("caller hung up during the IVR")
            await self.driver.hangup(ASTERISK, linkedid)
            raise
        if turn.transfer is None:
            # the IVR said goodbye (or had nothing left): the call ends here
            await self.driver.hangup(ASTERISK, linkedid)

    async def perform(self, channel: AgiChannel, linkedid: str, steps: list[r.AgiStep]) -> ev.Event | None:
        """Run one plan; the caller's answer to feed back, or None when the plan ended the IVR."""
        first_key: str | None = None
        for step in steps:
            if isinstance(step, r.PlayPrompt):
                if first_key is not None:
                    continue  # the caller is already answering: skip the rest of the prompts
                reply = await channel.command(agi.StreamFile(step.sound_name, step.interrupt_digits))
                key = _key(reply)
                if key and step.interrupt_digits:
                    first_key = key
            elif isinstance(step, r.CollectDigits):
                return await self._collect(channel, step, first_key)
            elif isinstance(step, r.Record):
                return await self._record(channel, linkedid, step)
            elif isinstance(step, r.SayDigitsStep):
                await channel.command(agi.RawCommand(f'SAY ALPHA {agi.quote(step.digits)} ""')
                                      if step.alpha else agi.SayDigits(step.digits))
            elif isinstance(step, r.SetVariable):
                await channel.set_variable(step.name, step.value)
            elif isinstance(step, r.ReturnToDialplan):
                return None
            elif isinstance(step, r.HangupStep):
                await channel.command(agi.Hangup())
                return None
        return None

    async def _collect(self, channel: AgiChannel, step: r.CollectDigits,
                       first_key: str | None) -> ev.Event:
        if first_key is not None:
            if step.max_digits <= 1:
                return ev.Digits(first_key)
            reply = await channel.command(agi.GetData("", step.timeout_ms, step.max_digits - 1))
            return ev.Digits(first_key + _digits(reply))
        reply = await channel.command(agi.GetData(step.sound_name, step.timeout_ms, step.max_digits))
        if reply.result == "-1":
            # the prompt could not be played (missing file) or the caller left: ask bare
            reply = await channel.command(agi.GetData("", step.timeout_ms, step.max_digits))
            if reply.result == "-1":
                raise CallerGone("GET DATA failed twice")
        return ev.Digits(_digits(reply))

    async def _record(self, channel: AgiChannel, linkedid: str, step: r.Record) -> ev.Event:
        base = self.recordings_dir / f"{_safe(linkedid)}-{step.path_hint}"
        command = agi.RecordFile(str(base), step.fmt, step.escape_digits, step.timeout_ms,
                                 beep=step.beep, silence_s=5)
        started = time.monotonic()
        reply = await channel.command(command)
        if reply.result == "-1" and step.beep:
            # no beep sound on this Asterisk: record without it rather than lose the complaint
            reply = await channel.command(agi.RecordFile(
                str(base), step.fmt, step.escape_digits, step.timeout_ms, silence_s=5))
        if reply.result == "-1":
            return ev.RecordingDone("", 0)
        # endpos counts samples; a channel without media (Local) reports 0: use the wall time
        seconds = round((reply.endpos or 0) / SAMPLE_RATE) or round(time.monotonic() - started)
        return ev.RecordingDone(f"{base}.{step.fmt}", seconds)


def _key(reply: AgiResponse) -> str | None:
    """STREAM FILE / WAIT FOR DIGIT: result is the ASCII code of the key, 0 for none."""
    code = reply.result_int
    return chr(code) if code is not None and code > 0 else None


def _digits(reply: AgiResponse) -> str:
    return "" if reply.result in ("", "-1") else reply.result


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]
