"""Asterisk integration.

The protocol cores here (``agi_protocol``, ``ami_protocol``) are sans-I/O:
bytes in, events out, bytes to write back. They own no socket, task or
clock, so the same code serves the FastAGI server, the AMI client and the
tests fed from recorded transcripts.
"""
