"""The hotline's IVR turns as a use case, on one storage port.

- `ports`: `TurnStore`, the one port a turn stores through, and what crosses it;
- `turns`: `HotlineDriver` (begin, feed, hangup, carrier status, transferred);
- `effects`: the effects' handlers and `CallContext`, what they get;
- `batched`: the unit of work of a batched turn; `outbound`: what a callback's
  call is about.

Imports no storage, SQLAlchemy, asyncpg or aiohttp (an import contract holds it).
"""
