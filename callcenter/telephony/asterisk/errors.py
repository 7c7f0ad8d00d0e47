"""Errors shared by the Asterisk protocol cores (AGI and AMI).

Two kinds, as in h11's ``_util.py``:

- ``LocalProtocolError``: *we* broke the protocol (sent a command while one
  is outstanding, put a newline in a value, reused an ActionID). It is a bug
  in our code; let it propagate.
- ``RemoteProtocolError``: the peer sent bytes we cannot make sense of, or
  too many of them. Log it with the call id and take the safe path (hang up,
  reconnect). The connection that raised it stays broken: every later
  ``next_event()`` raises it again.

Guarantee: the cores raise no other exception for any input bytes.
"""

from __future__ import annotations


class AsteriskProtocolError(Exception):
    """Base of both protocol errors."""


class LocalProtocolError(AsteriskProtocolError):
    """We tried to do something the protocol (or the connection state) forbids."""


class RemoteProtocolError(AsteriskProtocolError):
    """The peer sent something that is not valid AGI/AMI, or too much of it."""
