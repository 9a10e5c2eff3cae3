"""Library plumbing inside forward(), as torch.export treats it.

- `logging` calls (`log.warning("chunking %d frames", n)`, `logging.info(...)`) are no-ops
  on the graph: their arguments were evaluated by the caller's bytecode (so their tensor work
  and errors happen). As under torch.export, the message is emitted once at trace time when
  its arguments are plain values; one holding a traced tensor or size is dropped (formatting
  it would need values that do not exist while tracing).
- Introspection queries of torch's own state (`torch._C._are_functorch_transforms_active()`,
  `torch.autograd._is_checkpoint_valid()`) are answered natively: they read no tensor.
- `importlib.import_module` runs as the IMPORT_NAME opcode does (imports are not part of the
  program: the module is loaded, or found in sys.modules, for real).
"""
from __future__ import annotations

import importlib
import logging

import torch

from ...symbolic import SymValue
from ..calls.library import reaches_proxy
from ..registry import special

_LOGGER_METHODS = ("debug", "info", "warning", "warn", "error", "exception", "critical",
                   "fatal", "log")


def _log_call(method):
    def handler(interp, args, kwargs):
        values = (*args, *kwargs.values())
        if values and isinstance(values[0], (logging.Logger, logging.LoggerAdapter)):
            values = values[1:]         # the logger itself holds no traced value
        if not reaches_proxy(values) and not any(isinstance(v, SymValue) for v in values):
            method(*args, **kwargs)
        return None
    return handler


for _owner in (logging.Logger, logging.LoggerAdapter, logging):
    for _name in _LOGGER_METHODS:
        _method = getattr(_owner, _name, None)
        if _method is not None:
            special(_method)(_log_call(_method))


@special(importlib.import_module)
def _import_module(interp, args, kwargs):
    return importlib.import_module(*args, **kwargs)


def _state_query(query):
    def handler(interp, args, kwargs):
        return query(*args, **kwargs)
    return handler


for _query in (torch._C._are_functorch_transforms_active, torch.autograd._is_checkpoint_valid):
    special(_query)(_state_query(_query))
