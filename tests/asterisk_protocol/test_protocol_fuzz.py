"""Fuzzing both cores: any bytes either parse or raise RemoteProtocolError, nothing else.

As h11's ``fuzz/afl-server.py``, but with hypothesis: random bytes, and the
recorded transcripts with bytes flipped, inserted, deleted or cut off. Each
input is also read in random pieces and must give the same events and the
same verdict as when read whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.telephony.asterisk.agi_commands import Answer
from callcenter.telephony.asterisk.agi_protocol import AgiConnection, AgiRequest
from callcenter.telephony.asterisk.ami_protocol import AmiConnection
from callcenter.telephony.asterisk.errors import RemoteProtocolError
from callcenter.telephony.asterisk.stream import NEED_DATA, ConnectionClosed

from .replay import CALLER_HANGS_UP, HOTLINE_TOUR, AgiReplay, from_asterisk, split_at

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Outcome = tuple[list[object], str | None]

AGI_TRANSCRIPTS = {
    "agi_hotline_tour": (from_asterisk("agi_hotline_tour"), HOTLINE_TOUR),
    "agi_caller_hangs_up": (from_asterisk("agi_caller_hangs_up"), CALLER_HANGS_UP),
}
AMI_TRANSCRIPT = from_asterisk("ami_two_calls")
AMI_START = AMI_TRANSCRIPT[:6000]  # greeting, login, lists, Chinese names: enough per example


def verdict(run: Callable[[list[object]], None]) -> Outcome:
    """Run a feeding; only RemoteProtocolError may stop it."""
    events: list[object] = []
    try:
        run(events)
    except RemoteProtocolError:
        return events, "RemoteProtocolError"
    return events, None


def agi_outcome(
    chunks: Sequence[bytes], commands: Sequence[object], max_buffer_size: int
) -> Outcome:
    replay = AgiReplay(commands, max_buffer_size)  # type: ignore[arg-type]

    def run(events: list[object]) -> None:
        try:
            replay.run(chunks)
        finally:
            events.extend(replay.events)

    return verdict(run)


def ami_outcome(chunks: Sequence[bytes], max_buffer_size: int = 4096) -> Outcome:
    conn = AmiConnection(max_buffer_size=max_buffer_size, max_event_list_items=50)

    def run(events: list[object]) -> None:
        for chunk in [*chunks, b""]:
            conn.receive_data(chunk)
            while (event := conn.next_event()) is not NEED_DATA:
                events.append(event)
                if isinstance(event, ConnectionClosed):
                    return

    return verdict(run)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """The transcript with a few bytes replaced, inserted or deleted, maybe cut short."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, max(len(out) - 1, 0)))
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(
            st.sampled_from([0x00, 0x0A, 0x0D, 0x20, 0x28, 0x29, 0x3A, 0x3D, 0xE5, 0xFF, 0x30])
        )
        if kind == "replace" and out:
            out[pos] = byte
        elif kind == "insert":
            out.insert(pos, byte)
        elif out:
            del out[pos]
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


cuts = st.lists(st.integers(1, 100_000), max_size=25)


@FUZZ
@given(name=st.sampled_from(sorted(AGI_TRANSCRIPTS)), data=st.data(), cut_points=cuts)
def test_mutated_agi_sessions_parse_or_raise_remote_errors_alike_in_any_pieces(
    name: str, data: st.DataObject, cut_points: list[int]
) -> None:
    transcript, commands = AGI_TRANSCRIPTS[name]
    raw = data.draw(mutated(transcript))
    whole = agi_outcome([raw], commands, max_buffer_size=2048)
    pieces = agi_outcome(split_at(raw, cut_points), commands, max_buffer_size=2048)
    assert pieces == whole


@FUZZ
@given(raw=st.binary(max_size=600), cut_points=st.lists(st.integers(1, 600), max_size=10))
def test_random_bytes_as_an_agi_request_parse_or_raise_remote_errors(
    raw: bytes, cut_points: list[int]
) -> None:
    whole = agi_outcome([raw], [Answer()] * 3, max_buffer_size=256)
    assert agi_outcome(split_at(raw, cut_points), [Answer()] * 3, max_buffer_size=256) == whole


@FUZZ
@given(raw=st.binary(max_size=600), command_pending=st.booleans())
def test_random_bytes_as_agi_replies_parse_or_raise_remote_errors(
    raw: bytes, command_pending: bool
) -> None:
    conn = AgiConnection(max_buffer_size=1024)
    conn.receive_data(from_asterisk("agi_hotline_tour").split(b"\n\n")[0] + b"\n\n")
    assert isinstance(conn.next_event(), AgiRequest)
    if command_pending:
        conn.send(Answer())

    def run(events: list[object]) -> None:
        conn.receive_data(raw)
        conn.receive_data(b"")
        for _ in range(len(raw) + 2):
            event = conn.next_event()
            assert event is not NEED_DATA  # EOF was given: never wait again
            events.append(event)
            if isinstance(event, ConnectionClosed):
                return
        raise AssertionError("next_event never reached ConnectionClosed after EOF")

    verdict(run)


@FUZZ
@given(data=st.data(), cut_points=st.lists(st.integers(1, 6000), max_size=25))
def test_mutated_ami_sessions_parse_or_raise_remote_errors_alike_in_any_pieces(
    data: st.DataObject, cut_points: list[int]
) -> None:
    raw = data.draw(mutated(AMI_START))
    assert ami_outcome(split_at(raw, cut_points)) == ami_outcome([raw])


@FUZZ
@given(
    raw=st.binary(max_size=800),
    greeted=st.booleans(),
    cut_points=st.lists(st.integers(1, 800), max_size=10),
)
def test_random_bytes_on_ami_parse_or_raise_remote_errors(
    raw: bytes, greeted: bool, cut_points: list[int]
) -> None:
    prefix = b"Asterisk Call Manager/11.0.0\r\n" if greeted else b""
    whole = ami_outcome([prefix + raw], max_buffer_size=512)
    assert ami_outcome(split_at(prefix + raw, cut_points), max_buffer_size=512) == whole


@FUZZ
@given(
    fields=st.lists(
        st.tuples(
            st.text(st.characters(blacklist_characters=":\r\n"), min_size=1, max_size=12),
            st.text(max_size=20),
        ),
        max_size=6,
    )
)
def test_ami_messages_of_random_key_value_lines_never_raise_anything_else(
    fields: list[tuple[str, str]],
) -> None:
    body = "".join(f"{k}: {v}\r\n" for k, v in [("Event", "Fuzz"), *fields])
    raw = ("Asterisk Call Manager/11.0.0\r\n" + body + "\r\n").encode("utf-8", "surrogatepass")
    ami_outcome([raw], max_buffer_size=1 << 16)
