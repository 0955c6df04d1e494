"""Settings a client changes while the server runs: logging (Triton's LogSettings) and
tracing (TraceSetting). Log changes apply at once to the server's loggers. Trace settings are
stored and reported as Triton does; no spans are exported (tracing is not built)."""

from __future__ import annotations

import logging

from .errors import InvalidInput

LOG_FORMATS = {
    "default": "%(asctime)s %(levelname)s %(name)s: %(message)s",
    "ISO8601": "%(asctime)s %(levelname)s %(name)s: %(message)s",
}
ISO_DATE = "%Y-%m-%dT%H:%M:%SZ"
TRACE_DEFAULTS: dict[str, list[str]] = {
    "trace_file": [], "trace_level": ["OFF"], "trace_rate": ["1000"], "trace_count": ["-1"],
    "log_frequency": ["0"], "trace_mode": ["triton"],
}


class LogSettings:
    """log_info, log_warning, log_error (bool), log_verbose_level (int), log_format, log_file."""

    def __init__(self) -> None:
        self.values: dict[str, bool | int | str] = {
            "log_file": "", "log_info": True, "log_warning": True, "log_error": True,
            "log_verbose_level": 0, "log_format": "default"}

    def update(self, changes: dict[str, bool | int | str]) -> dict[str, bool | int | str]:
        for key, value in changes.items():
            if key not in self.values:
                raise InvalidInput(f"unknown log setting '{key}'; the settings are "
                                   f"{sorted(self.values)}")
            if key == "log_file" and value != self.values["log_file"]:
                raise InvalidInput("log_file cannot be changed: the server logs to stderr")
            if key == "log_format" and value not in LOG_FORMATS:
                raise InvalidInput(f"log_format must be one of {sorted(LOG_FORMATS)}")
            expected = type(self.values[key])
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise InvalidInput(f"log setting '{key}' takes a {expected.__name__}")
            self.values[key] = value
        self._apply()
        return dict(self.values)

    def _apply(self) -> None:
        root = logging.getLogger()
        if self.values["log_verbose_level"]:
            level = logging.DEBUG
        elif self.values["log_info"]:
            level = logging.INFO
        elif self.values["log_warning"]:
            level = logging.WARNING
        elif self.values["log_error"]:
            level = logging.ERROR
        else:
            level = logging.CRITICAL + 1
        root.setLevel(level)
        iso = self.values["log_format"] == "ISO8601"
        formatter = logging.Formatter(LOG_FORMATS[str(self.values["log_format"])],
                                      ISO_DATE if iso else None)
        for handler in root.handlers:
            handler.setFormatter(formatter)


class TraceSettings:
    """Global trace settings and per-model overrides; an empty list clears an override."""

    def __init__(self) -> None:
        self.global_settings = {k: list(v) for k, v in TRACE_DEFAULTS.items()}
        self.by_model: dict[str, dict[str, list[str]]] = {}

    def update(self, model: str, changes: dict[str, list[str]]) -> dict[str, list[str]]:
        for key in changes:
            if key not in TRACE_DEFAULTS:
                raise InvalidInput(f"unknown trace setting '{key}'; the settings are "
                                   f"{sorted(TRACE_DEFAULTS)}")
        levels = changes.get("trace_level", [])
        bad = [v for v in levels if v not in ("OFF", "TIMESTAMPS", "TENSORS")]
        if bad:
            raise InvalidInput(f"trace_level {bad} is not one of OFF, TIMESTAMPS, TENSORS")
        target = self.by_model.setdefault(model, {}) if model else self.global_settings
        for key, values in changes.items():
            if values:
                target[key] = list(values)
            elif model:
                target.pop(key, None)
            else:
                target[key] = list(TRACE_DEFAULTS[key])
        return self.settings(model)

    def settings(self, model: str = "") -> dict[str, list[str]]:
        return {**self.global_settings, **self.by_model.get(model, {})}
