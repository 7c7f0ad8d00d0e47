"""`python -m callcenter.callbacks`: one dispatcher process, outside the web app.

The carrier adapter is named by `--dialer module:factory`; the factory is
called as `factory(settings, db, worker)` and returns a `Dialer`. Built-in:
`callcenter.telephony.twilio.rest:from_settings`. `--until-idle` exits once no
callback is open (batch runs and tests); otherwise it runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Sequence
from datetime import timedelta

from callcenter.callbacks.config import dispatch_config
from callcenter.callbacks.loop import Dispatcher
from callcenter.jobs import default_holder
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from crm.services.callback_ports import Dialer


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m callcenter.callbacks", description=__doc__)
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.add_argument("--dialer", default="callcenter.telephony.twilio.rest:from_settings",
                   help="module:factory returning the carrier adapter")
    p.add_argument("--worker", default=default_holder(), help="this worker's name in claims")
    p.add_argument("--batch", type=int, default=50, help="callbacks claimed per pass")
    p.add_argument("--claim-ttl", type=float, default=60.0, help="seconds a claim lasts")
    p.add_argument("--dial-ttl", type=float, default=120.0,
                   help="seconds a dial may go unreported before it is reconciled")
    p.add_argument("--tick", type=float, default=1.0, help="idle wait between passes (s)")
    p.add_argument("--sweep-every", type=float, default=5.0, help="seconds between sweeps")
    p.add_argument("--until-idle", action="store_true", help="exit once no callback is open")
    return p


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    module_name, _, factory_name = args.dialer.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    db = Database.open(settings.database_url, pool_size=4)
    dialer: Dialer | None = None
    try:
        made = factory(settings, db, args.worker)
        dialer = await made if inspect.isawaitable(made) else made
        assert dialer is not None
        config = dispatch_config(
            settings, args.worker, batch=args.batch, claim_ttl=timedelta(seconds=args.claim_ttl),
            dial_ttl=timedelta(seconds=args.dial_ttl))
        loop = Dispatcher(db, dialer, config, tick=args.tick,
                          sweep_every=timedelta(seconds=args.sweep_every))
        settle = getattr(dialer, "settle", None)
        if args.until_idle:
            dialled = await loop.run_until_idle(settle)
            print(f"{args.worker}: {dialled} dials", flush=True)
        else:
            await loop.run_forever()
        return 0
    finally:
        close = getattr(dialer, "close", None)
        if close is not None:
            await close()
        await db.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return asyncio.run(_run(args, settings))


if __name__ == "__main__":
    sys.exit(main())
