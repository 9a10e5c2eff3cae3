"""Run a generated program through export and eager and compare everything observable."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.utils._pytree as pytree
from torch.export import Dim

from ..api import export
from ..errors import ConstraintViolationError, GraphBreakError
from .programs import WIDTH, Program
from .strategies import accepts


@dataclass
class Outcome:
    """What check_program() saw: whether the program exported, else the refusal, or else the
    error eager raises on the example too (an invalid program: nothing to compare)."""

    exported: bool
    refusal: GraphBreakError | ConstraintViolationError | None = None
    eager_error: str | None = None


def _assert_close(got, want, what: str) -> None:
    got_leaves, got_spec = pytree.tree_flatten(got)
    want_leaves, want_spec = pytree.tree_flatten(want)
    if got_spec != want_spec:
        raise AssertionError(f"{what}: structure {got_spec} != {want_spec}")
    for i, (g, w) in enumerate(zip(got_leaves, want_leaves)):
        if isinstance(w, torch.Tensor):
            if g.shape != w.shape or g.dtype != w.dtype:
                raise AssertionError(f"{what}[{i}]: {tuple(g.shape)}/{g.dtype} != {tuple(w.shape)}/{w.dtype}")
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4, equal_nan=True,
                                       msg=lambda m: f"{what}[{i}]: {m}")
        elif g != w:
            raise AssertionError(f"{what}[{i}]: {g!r} != {w!r}")


def _eager_error(mod: torch.nn.Module, example: tuple) -> str | None:
    """The error eager raises on the example inputs, or None if it runs."""
    try:
        copy.deepcopy(mod)(*copy.deepcopy(example))
    except Exception as exc:  # noqa: BLE001 - any eager error makes the program invalid
        return f"{type(exc).__name__}: {exc}"
    return None


def _batch_range(ep) -> tuple[int, float] | None:
    """The legal range of the batch size shared by all user inputs, or None if it is static."""
    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    lower, upper = 0, math.inf
    for spec in ep.graph_signature.input_specs:
        if spec.kind.name != "USER_INPUT":
            continue
        val = placeholders[spec.arg.name].meta["val"]
        size = val.shape[0]
        if isinstance(size, int):
            return None
        vr = ep.range_constraints.get(size.node.expr)
        if vr is not None:
            lower = max(lower, int(vr.lower))
            upper = min(upper, float(vr.upper))
    return lower, upper


def check_program(program: Program, batches: tuple[int, ...] = (4,), seeds: tuple[int, ...] = (1, 2),
                  dynamic: bool = False, named_batch: bool = False) -> Outcome:
    """Export `program` at batch batches[0]; compare with eager on every (batch, seed).

    With `dynamic`, every input dimension is exported as Dim.AUTO; with `named_batch` too, the
    batch dimensions as one named `Dim("batch")`, whose range starts at 0, so the program must
    also be right at batches 0 and 1 (or refuse: a ConstraintViolationError). The program runs
    at every batch size: those the program accepts (`strategies.accepts`: static sizes, range
    constraints, relation/divisibility guards) must match eager (at 0 and 1 only where eager
    runs); the others, and a batch below a raised lower bound, must be rejected, never answered
    wrongly.
    Raises AssertionError on any difference (outputs, mutated inputs, buffers). A
    GraphBreakError during export is a legitimate refusal and is returned; any other exception
    propagates unless eager fails on the example too (returned as `eager_error`).
    """
    mod = program.build()
    # ep.module() shares parameter/buffer storage with `mod` (as torch.export's does), so the
    # eager side runs on its own copy.
    eager_mod = copy.deepcopy(mod)
    example = program.inputs(batches[0], seed=0)
    batch = Dim("batch") if named_batch else Dim.AUTO
    spec = tuple({0: batch, 1: Dim.AUTO} for _ in example) if dynamic else None
    try:
        ep = export(mod, copy.deepcopy(example), dynamic_shapes=spec)
    except GraphBreakError as refusal:
        return Outcome(False, refusal)
    except ConstraintViolationError as refusal:
        if not named_batch:
            raise
        return Outcome(False, refusal)      # a small batch the program cannot be right at
    except Exception:
        error = _eager_error(eager_mod, example)
        if error is None:
            raise       # eager runs the program: the export error is ours
        return Outcome(False, eager_error=error)
    runner = ep.module()
    legal = _batch_range(ep)
    if legal is not None and legal[0] > 2:
        # Below the range (a guard tracing relied on): must be rejected, never answered.
        _assert_rejected(runner, program.inputs(legal[0] - 1, seed=0))
    for size in batches:
        for seed in seeds:
            _compare(program.inputs(size, seed), ep, runner, eager_mod,
                     eager_may_fail=size < 2)
    if dynamic:
        # The width is dynamic too (Dim.AUTO): where the program's guards admit another width
        # and eager runs there, the export must match it. (Where eager fails there, the export
        # may run: a failing op whose result is unused is gone from the graph, in
        # torch.export's programs too; the generated programs are written for WIDTH.)
        _compare(program.inputs(batches[0], seeds[0], WIDTH + 1), ep, runner, eager_mod,
                 eager_may_fail=True)
    return Outcome(True)


def _compare(inputs: tuple, ep, runner, eager_mod, eager_may_fail: bool = False) -> None:
    if not accepts(ep, inputs, {}):
        # Outside the specs (a static or specialized size, a range, a relation or
        # divisibility guard): must be rejected.
        _assert_rejected(runner, inputs)
        return
    eager_inputs, exported_inputs = copy.deepcopy(inputs), copy.deepcopy(inputs)
    if eager_may_fail and _eager_error(eager_mod, inputs) is not None:
        return
    want = eager_mod(*eager_inputs)
    got = runner(*exported_inputs)
    _assert_close(got, want, "output")
    _assert_close(exported_inputs, eager_inputs, "inputs after the call")
    # ep.module() holds the buffers the graph uses; unused ones cannot have changed.
    eager_buffers = dict(eager_mod.named_buffers())
    exported_buffers = dict(runner.named_buffers())
    _assert_close(exported_buffers, {k: eager_buffers[k] for k in exported_buffers},
                  "buffers after the call")


def _assert_rejected(runner, inputs) -> None:
    try:
        runner(*copy.deepcopy(inputs))
    except Exception:  # the guard check raises (AssertionError/RuntimeError, torch's choice)
        return
    raise AssertionError("an input violating the range constraints was accepted")
