"""`callcenter serve`: run the HTTP service (with FastAGI, AMI and the job loop)."""

from __future__ import annotations

import argparse

from aiohttp import web

from callcenter.app import create_app
from callcenter.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("serve", help="run the service")
    parser.add_argument("--host", help="HTTP bind address (HTTP_HOST)")
    parser.add_argument("--port", type=int, help="HTTP port (HTTP_PORT)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.http_host
    port = args.port or settings.http_port
    web.run_app(create_app(settings), host=host, port=port, access_log=None, print=None)
    return 0
