"""Striate's inference server: `python -m service --help`."""

__version__ = "0.1.0"
