"""A real server process for a test: `service.launch`, where tests and bench/ both find it."""

from service.launch import ROOT, RunningServer, running_server

__all__ = ["ROOT", "RunningServer", "running_server"]
