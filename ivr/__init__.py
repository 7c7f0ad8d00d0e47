"""The hotline IVR, sans-I/O: flows as data, a session that turns events into
actions, and pure renderers for Twilio (TwiML) and Asterisk (an AGI plan).

``ivr`` imports nothing of ours and no I/O library, never reads the clock and
never sleeps (an import-linter contract checks the imports). Events and
actions live in :mod:`ivr.events` and :mod:`ivr.actions` (both have a
``Hangup``: import the modules, not the names).
"""

from ivr import actions, events
from ivr.flow import Flow, FlowError, assert_valid, validate
from ivr.hotline import HOTLINE
from ivr.outbound import OUTBOUND_FLOWS
from ivr.prompts import LANGUAGES, PROMPT_IDS, UnknownPrompt, prompt_text
from ivr.session import Session
from ivr.state import SessionError

__all__ = [
    "HOTLINE",
    "LANGUAGES",
    "OUTBOUND_FLOWS",
    "PROMPT_IDS",
    "Flow",
    "FlowError",
    "Session",
    "SessionError",
    "UnknownPrompt",
    "actions",
    "assert_valid",
    "events",
    "prompt_text",
    "validate",
]
