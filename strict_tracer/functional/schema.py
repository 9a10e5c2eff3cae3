"""Alias and mutation facts of ATen ops, read from their schemas.

`Tensor(a!)` marks an argument the op writes, `Tensor(a)` on a return marks a view of an
input. From these annotations (and ATen's tags) every op falls in one `Kind`, and a mutating
op gets its functional variant from the schema registry:

- in-place `foo_.ovl`      -> `foo.ovl` (or `foo_functional`), result = new value of self;
- out= `foo.out`           -> the `foo` overload taking the other arguments, results = outs;
- other mutating `foo`     -> `foo_functional`, results = foo's returns + the mutated args.

The one hand-written entry is `_LEGACY_HIDDEN_MUTATION`: ATen ops whose schema omits the `!`
on arguments they write. Everything else CompositeImplicitAutograd that may alias or mutate
is found from ATen itself (alias annotations, the `maybe_aliasing_or_mutating` tag) and is
replaced by its decomposition.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

aten = torch.ops.aten
_CIA = torch._C.DispatchKey.CompositeImplicitAutograd

# native_batch_norm writes running_mean/running_var but its schema says `Tensor?`; torch
# routes it to `_native_batch_norm_legit` by a Python decomposition (torch/_decomp).
_LEGACY_HIDDEN_MUTATION = frozenset({aten.native_batch_norm.default})


class Kind(enum.Enum):
    FUNCTIONAL = "functional"        # no alias annotations: fresh outputs, no writes
    VIEW = "view"                    # returns alias an input, nothing written
    MUTATION = "mutation"            # writes arguments (in-place, out=, running stats)
    INPLACE_VIEW = "inplace_view"    # changes self's view metadata (unsqueeze_, t_, detach_)
    DECOMPOSE = "decompose"          # may alias or mutate depending on inputs: decompose it


@dataclass(frozen=True)
class MutatedArg:
    index: int          # position in the schema's arguments
    name: str
    kwarg_only: bool


@dataclass(frozen=True)
class OpFacts:
    kind: Kind
    mutated: tuple[MutatedArg, ...] = ()
    functional: Any = None              # OpOverload computing the same values without writes
    drop_kwargs: frozenset[str] = frozenset()   # out= arguments the functional op does not take
    fresh_returns: int = 0              # leading functional returns that are the op's own fresh returns
    # For each return of the original op: ("arg", k) = the k-th mutated argument, or
    # ("fresh", i) = the functional op's i-th return.
    returns: tuple[tuple[str, int], ...] = ()
    view_op: Any = None                 # for INPLACE_VIEW: the view op it applies to self


def is_cia(op: Any) -> bool:
    """Has a CompositeImplicitAutograd decomposition (C++ or registered in Python). Decided
    once per op, as op_facts is (asked for every op node of every functionalized graph)."""
    known = _cia_by_id.get(id(op))
    if known is not None and known[0] is op:
        return known[1]
    answer = _CIA in op.py_kernels or torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), _CIA)
    _cia_by_id[id(op)] = (op, answer)
    return answer


# id(op) -> (op, is_cia(op)); by id: an OpOverload's __hash__ runs in Python.
_cia_by_id: dict[int, tuple[Any, bool]] = {}


def needs_decomposition(op: Any) -> bool:
    """Decompose `op` rather than keep it: used by ops.dispatch while decomposing.

    Every CompositeImplicitAutograd op met inside a decomposition is decomposed too, so the
    recorded calls have exact alias and mutation annotations (batch_norm ->
    _batch_norm_impl_index -> native_batch_norm -> _native_batch_norm_legit).
    """
    return isinstance(op, torch._ops.OpOverload) and is_cia(op)


def _writes(arg: Any) -> bool:
    return arg.alias_info is not None and arg.alias_info.is_write


def _signature_key(args: list) -> tuple:
    """Argument types, ignoring names (dropout_ takes `self`, dropout `input`) and defaults."""
    return tuple((str(a.type), a.kwarg_only) for a in args)


def _overloads(packet_name: str) -> list[Any]:
    packet = getattr(aten, packet_name, None) if hasattr(aten, packet_name) else None
    if packet is None:
        return []
    result = []
    for name in packet.overloads():
        try:
            result.append(getattr(packet, name))
        except (AttributeError, RuntimeError):
            continue
    return result


def _find_functional(packet_names: list[str], overload: str, wanted: tuple) -> Any:
    """The overload among `packet_names` whose non-mutating arguments equal `wanted`."""
    for packet_name in packet_names:
        candidates = _overloads(packet_name)
        candidates.sort(key=lambda o: o._overloadname != overload)   # same overload name first
        for cand in candidates:
            schema = cand._schema
            if schema.is_mutable or any(r.alias_info is not None for r in schema.returns):
                continue
            if _signature_key(list(schema.arguments)) == wanted:
                return cand
    return None


@lru_cache(maxsize=None)
def op_facts(op: Any) -> OpFacts:
    schema = op._schema
    args = list(schema.arguments)
    mutated = tuple(MutatedArg(i, a.name, a.kwarg_only) for i, a in enumerate(args) if _writes(a))
    if not mutated:
        aliasing = any(r.alias_info is not None for r in schema.returns)
        if op in _LEGACY_HIDDEN_MUTATION:
            return OpFacts(Kind.DECOMPOSE)
        if is_cia(op) and (aliasing or torch.Tag.maybe_aliasing_or_mutating in op.tags):
            return OpFacts(Kind.DECOMPOSE)
        return OpFacts(Kind.VIEW if aliasing else Kind.FUNCTIONAL)
    name = schema.name.split("::", 1)[1]
    overload = op._overloadname
    if torch.Tag.inplace_view in op.tags:
        view_op = _find_view(name.rstrip("_"), overload, _signature_key(args))
        return OpFacts(Kind.INPLACE_VIEW, mutated, view_op=view_op)
    return _mutation_facts(op, name, overload, args, mutated)


def _find_view(packet_name: str, overload: str, wanted: tuple) -> Any:
    for cand in sorted(_overloads(packet_name), key=lambda o: o._overloadname != overload):
        if cand.is_view and _signature_key(list(cand._schema.arguments)) == wanted:
            return cand
    return None


def _mutation_facts(op: Any, name: str, overload: str, args: list,
                    mutated: tuple[MutatedArg, ...]) -> OpFacts:
    schema = op._schema
    out_args = {m.name for m in mutated if m.kwarg_only}
    is_out = bool(out_args) and len(out_args) == len(mutated)
    if is_out:
        kept = [a for a in args if a.name not in out_args]
        functional = _find_functional([name], overload, _signature_key(kept))
        fresh = 0
    else:
        wanted = _signature_key(args)
        packets = [name[:-1], name[:-1] + "_functional"] if name.endswith("_") else []
        packets.append(name + "_functional")
        functional = _find_functional(packets, overload, wanted)
        fresh = 0
        if functional is not None and functional.name().endswith("_functional"):
            fresh = sum(1 for r in schema.returns if r.alias_info is None)
    if functional is None:
        return OpFacts(Kind.DECOMPOSE if is_cia(op) else Kind.MUTATION, mutated)
    n_results = len(functional._schema.returns)
    if n_results != fresh + len(mutated):
        return OpFacts(Kind.MUTATION, mutated)
    returns: list[tuple[str, int]] = []
    fresh_index = 0
    for ret in schema.returns:
        if ret.alias_info is not None and ret.alias_info.is_write:
            k = _mutated_with_alias(args, mutated, ret.alias_info)
            if k is None:
                return OpFacts(Kind.MUTATION, mutated)
            returns.append(("arg", k))
        else:
            returns.append(("fresh", fresh_index))
            fresh_index += 1
    if fresh_index != fresh:
        return OpFacts(Kind.MUTATION, mutated)
    return OpFacts(Kind.MUTATION, mutated, functional, frozenset(out_args if is_out else ()),
                   fresh, tuple(returns))


def _mutated_with_alias(args: list, mutated: tuple[MutatedArg, ...], alias_info: Any) -> int | None:
    sets = alias_info.before_set
    for k, m in enumerate(mutated):
        if args[m.index].alias_info.before_set == sets:
            return k
    return None
