"""STRICT_TRACER_LOG: what it asks for and the stderr handler it installs.

STRICT_TRACER_LOG is a comma-separated list:
  bytecode      the bytecode log (`strict_tracer.bytecode` at DEBUG) to stderr
  info          the stage and progress records (`strict_tracer` at INFO) to stderr
  user          log only frames of the user's code (no library or standard-library frames)
  only=NAME     log only frames whose function (name or qualified name) or module (dotted
                name, its last part, or the file's base name) is NAME; repeatable
  limit=N       write at most N lines of bytecode log
With the bytecode log on, one summary line ends each trace: instructions and frames run,
lines written, and what the filters and the limit left out.

The bytecode log (interpreter/diagnostics/bytecode_log.py) and the stage records (stage_log.py) read it;
it sits below both so neither reaches into the other's layer.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass, field

LOG = logging.getLogger("strict_tracer.bytecode")
ROOT = logging.getLogger("strict_tracer")
ENV_VAR = "STRICT_TRACER_LOG"


@dataclass
class LogOptions:
    """What STRICT_TRACER_LOG asks for."""

    bytecode: bool = False
    info: bool = False
    user_only: bool = False
    names: frozenset = field(default_factory=frozenset)
    limit: int | None = None

    @property
    def filtered(self) -> bool:
        return self.user_only or bool(self.names)

    def describe(self) -> str:
        parts = (["user"] if self.user_only else []) + [f"only={n}" for n in sorted(self.names)]
        return ", ".join(parts)


def parse_options(text: str) -> LogOptions:
    options = LogOptions()
    names = set()
    for item in (part.strip() for part in text.split(",")):
        key, _, value = item.partition("=")
        if not item:
            continue
        if item in ("bytecode", "info", "user"):
            setattr(options, {"user": "user_only"}.get(item, item), True)
        elif key == "only" and value:
            names.add(value)
        elif key == "limit" and value.isdigit():
            options.limit = int(value)
        else:
            warnings.warn(f"{ENV_VAR}: ignoring {item!r} (known: bytecode, info, user, only=NAME, "
                          f"limit=N)", stacklevel=2)
    options.names = frozenset(names)
    return options


def configure_from_environment() -> LogOptions:
    """Install the stderr handler and levels STRICT_TRACER_LOG asks for (once per process)."""
    options = parse_options(os.environ.get(ENV_VAR, ""))
    if not (options.bytecode or options.info):
        return options
    if not any(getattr(h, "_strict_tracer_env", False) for h in ROOT.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
        handler._strict_tracer_env = True
        ROOT.addHandler(handler)
    if options.bytecode:
        LOG.setLevel(logging.DEBUG)
    if options.info and not ROOT.isEnabledFor(logging.INFO):
        ROOT.setLevel(logging.INFO)
    return options
