"""Settings are declared once: every field of `Settings` is a flag and a STRIATE_* variable."""

from __future__ import annotations

import subprocess
import sys
import typing
from dataclasses import fields
from pathlib import Path

import pytest

from service.settings import Settings, env_of, flag_of, settings_from_args

ROOT = Path(__file__).resolve().parents[2]
SPECS = fields(Settings)
HINTS = typing.get_type_hints(Settings)


def _samples(name: str) -> tuple[str, str]:
    """Two different valid values for a setting, as text, neither its default."""
    spec = next(s for s in SPECS if s.name == name)
    choices = spec.metadata["choices"]
    if choices:
        others = [c for c in choices if c != spec.default]
        return others[0], others[-1]
    hint = str(HINTS[name])
    if "tuple" in hint:
        return "alpha", "beta"
    if "bool" in hint:
        return "1", "0"
    if "Path" in hint:
        return "/srv/one", "/srv/two"
    if "float" in hint:
        return "2.5", "7.25"
    if "int" in hint:
        return "7", "11"
    return "one", "two"


def _parsed(value, name: str):
    hint = str(HINTS[name])
    if "tuple" in hint:
        return (value,)
    if "bool" in hint:
        return value == "1"
    if "Path" in hint:
        return Path(value)
    if "float" in hint:
        return float(value)
    if "int" in hint:
        return int(value)
    return value


@pytest.mark.parametrize("name", [s.name for s in SPECS])
def test_every_setting_has_a_flag_and_a_variable(name):
    by_flag, by_env = _samples(name)
    flag_args = [flag_of(name)] if "bool" in str(HINTS[name]) else [flag_of(name), by_flag]
    from_flag = settings_from_args(flag_args, environ={})
    assert getattr(from_flag, name) == _parsed(by_flag, name)
    from_env = settings_from_args([], environ={env_of(name): by_env})
    assert getattr(from_env, name) == _parsed(by_env, name)


@pytest.mark.parametrize("name", [s.name for s in SPECS if "bool" not in str(HINTS[s.name])])
def test_a_flag_beats_the_environment(name):
    by_flag, by_env = _samples(name)
    if by_flag == by_env:  # two-way choices: the environment says the default
        by_env = next(s for s in SPECS if s.name == name).default
    settings = settings_from_args([flag_of(name), by_flag], environ={env_of(name): by_env})
    assert getattr(settings, name) == _parsed(by_flag, name)


def test_defaults_without_flags_or_variables():
    assert settings_from_args([], environ={}) == Settings()


def test_names_match_across_flag_field_and_variable():
    assert flag_of("max_queue_size") == "--max-queue-size"
    assert env_of("max_queue_size") == "STRIATE_MAX_QUEUE_SIZE"
    settings = settings_from_args(["--max-queue-size", "5", "--load-model", "a",
                                   "--load-model", "b"], environ={})
    assert settings.max_queue_size == 5 and settings.load_model == ("a", "b")
    assert settings_from_args([], environ={"STRIATE_LOAD_MODEL": "a, b"}).load_model == ("a", "b")
    assert settings_from_args(["--max-message-mb", "2"], environ={}).max_message_bytes == 2 << 20


@pytest.mark.parametrize("variable,value", [("STRIATE_GRPC_PORT", "eighty"),
                                            ("STRIATE_DEVICE", "tpu")])
def test_a_bad_variable_is_refused_with_its_name(variable, value, capsys):
    with pytest.raises(SystemExit):
        settings_from_args([], environ={variable: value})
    assert f"{variable}={value!r}" in capsys.readouterr().err


def test_help_explains_every_flag():
    result = subprocess.run([sys.executable, "-m", "service", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    text = " ".join(result.stdout.split())
    for spec in SPECS:
        assert flag_of(spec.name) in text
        assert f"[{env_of(spec.name)}]" in text
        first_words = " ".join(spec.metadata["help"].split()[:3])
        assert first_words in text, f"{flag_of(spec.name)} has no explanation in --help"
