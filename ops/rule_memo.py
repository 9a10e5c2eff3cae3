"""Symbolic output layouts of repeated calls, computed once per trace.

A model's layers make the same calls on the same symbolic sizes (every layer of a decoder
views, transposes and multiplies tensors of `(b, s, hidden)`), and a shape rule costs ~0.2 ms
of sympy arithmetic and engine decisions a call: most of a long dynamic export's tracing. A
rule's answer is a function of the call (op, argument layouts as resolved expressions, scalar
arguments, the oracle's output metadata) and of what the engine knows. So an answer is kept
when computing it taught the engine nothing (no guard, fact, replacement or symbol: a call
that did records them, and the next identical call then computes without learning) and is
used again only while the engine has learned nothing since (its `version`); the output
layouts are the same values, shared.
"""
from __future__ import annotations

import weakref
from typing import Any

import torch

from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import SymValue

_PLAIN = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
          torch.memory_format)


class _NoKey(Exception):
    """An argument the key cannot describe: the call is not memoized."""


class RuleMemo:
    """The answers of one trace's engine (`env`)."""

    def __init__(self, env: Any) -> None:
        self._env = weakref.ref(env)
        self.answers: dict = {}     # key -> (engine version, [(shape, sym_strides)])

    def owned_by(self, env: Any) -> bool:
        return self._env() is env


_memo: RuleMemo | None = None


def memo_for(env: Any) -> RuleMemo:
    global _memo
    if _memo is None or not _memo.owned_by(env):
        _memo = RuleMemo(env)
    return _memo


def call_key(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], env: Any) -> Any:
    """What the rule reads of the call, symbolic sizes as resolved expressions; None when an
    argument is not described."""
    try:
        return (op, _key(args, env), _key(kwargs, env),
                tuple((_key(m.shape, env), m.strides, _key(m.sym_strides, env), m.dtype,
                       _key(m.storage_offset, env)) for m in outputs))
    except _NoKey:
        return None


def _key(value: Any, env: Any) -> Any:
    t = type(value)
    if t is TensorProxy:
        m = value.meta
        strides = None if m.sym_strides is None else _key(m.sym_strides, env)
        return ("T", _key(m.shape, env), m.strides, strides, _key(m.storage_offset, env),
                m.dtype, m.device, m.layout, m.requires_grad)
    if t in (list, tuple):
        return (t, tuple(_key(v, env) for v in value))
    if t is dict:
        return (dict, tuple((k, _key(v, env)) for k, v in value.items()))
    if isinstance(value, SymValue):
        return (type(value), env.resolve(value.expr))
    if t in _PLAIN:
        return (t, value)
    raise _NoKey


def engine_state(env: Any) -> tuple:
    """Changes whenever the engine learns something, records a guard, an assert or a
    warning, or makes a symbol."""
    return env.version, len(env.symbols), len(env.guards), len(env.runtime_asserts), \
        len(env.warnings)


def recall(memo: RuleMemo, key: Any, env: Any) -> list | None:
    """The layouts computed for `key` if the engine has learned nothing since."""
    try:
        kept = memo.answers.get(key)
    except TypeError:       # an unhashable scalar argument
        return None
    if kept is None or kept[0] != engine_state(env):
        return None
    return kept[1]


def keep(memo: RuleMemo, key: Any, before: tuple, env: Any, outputs: list[TensorMeta]) -> None:
    """Keep the layouts just computed, if computing them left the engine as it was."""
    if engine_state(env) == before:
        try:
            memo.answers[key] = (before, [(m.shape, m.sym_strides) for m in outputs])
        except TypeError:
            pass
