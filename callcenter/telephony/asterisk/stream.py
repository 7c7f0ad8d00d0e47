"""What a protocol core answers when it has no protocol event to give.

``NEED_DATA``: the buffered bytes do not hold a whole event; call
``receive_data`` with more bytes, then ``next_event`` again.
``ConnectionClosed``: the peer closed the stream (``receive_data(b"")``)
cleanly, on an event boundary. A close in the middle of an event is a
``RemoteProtocolError`` instead. Once closed, ``next_event`` keeps returning
``ConnectionClosed`` — it never spins waiting for bytes that cannot come.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal


class Signal(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = Signal.NEED_DATA
NeedData = Literal[Signal.NEED_DATA]


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed its side of the connection."""
