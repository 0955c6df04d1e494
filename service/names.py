"""Model names are names: checked before any filesystem or metadata use, shown bounded.

A name is 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with a dot, so it can never be a
path (`../x`), overflow a filename or a gRPC header when echoed, or forge a log line.
"""

from __future__ import annotations

import re

from .errors import ModelNotFound

MAX_NAME_LENGTH = 128
_NAME = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,{MAX_NAME_LENGTH - 1}}}")
_VERSION = re.compile(r"[0-9]{0,18}")
_SHOWN_LENGTH = 40


def shown(text: str) -> str:
    """`text` for a message or a log line: quoted, control characters escaped, bounded."""
    quoted = ascii(text[:_SHOWN_LENGTH])
    return quoted if len(text) <= _SHOWN_LENGTH else f"{quoted[:-1]}...{quoted[-1]}"


def is_valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def check_model_name(name: str, version: str = "") -> None:
    """ModelNotFound unless `name` can be a model's name and `version` a version number."""
    if not is_valid_name(name):
        raise ModelNotFound(
            f"no model named {shown(name)}: model names are 1 to {MAX_NAME_LENGTH} letters, "
            "digits, '_', '.' or '-', not starting with '.'")
    if not _VERSION.fullmatch(version):
        raise ModelNotFound(f"model {shown(name)} has no version {shown(version)}: versions "
                            "are numbers")
