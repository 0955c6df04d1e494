"""`python -m service`: start the server (see --help)."""

from __future__ import annotations

import asyncio
import logging

from .server import Server
from .settings import settings_from_args


def main(argv: list[str] | None = None) -> None:
    settings = settings_from_args(argv)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(settings))


async def _serve(settings) -> None:
    # grpc.aio objects bind to the running loop: build the server inside it
    await Server(settings).serve_forever()


if __name__ == "__main__":
    main()
