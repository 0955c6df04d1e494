"""`python -m service`: start the server (see --help)."""

from __future__ import annotations

import asyncio
import logging
import signal

from .server import Server
from .settings import settings_from_args


def main(argv: list[str] | None = None) -> None:
    settings = settings_from_args(argv)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(settings))
    # stopped cleanly: a late SIGTERM during the interpreter's teardown must not turn exit 0
    # into -15 (Python resets its signal handlers while it finalizes)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


async def _serve(settings) -> None:
    # grpc.aio objects bind to the running loop: build the server inside it
    await Server(settings).serve_forever()


if __name__ == "__main__":
    main()
