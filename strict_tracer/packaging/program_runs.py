"""Whether two exported programs give the same results on the same inputs.

Used when two programs differ in form at a small size (a slice where the other has an
unsqueeze, a copy where the other has a view): both run their functional graphs on the example
inputs cut to that size; their outputs, mutated state included, must agree. Programs over meta
or fake tensors cannot run (`runnable`).
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch._subclasses.fake_tensor import FakeTensor
from torch.utils import _pytree as pytree

RUN_SEED = 0


def same_results(general: torch.export.ExportedProgram, small: torch.export.ExportedProgram,
                 args: tuple, kwargs: dict) -> Optional[str]:
    """None if the general program gives the small program's results on these inputs (or the
    small program itself fails on them: eager has no result there); else what differs."""
    try:
        expected = _run(small, args, kwargs)
    except Exception:
        return None
    try:
        got = _run(general, args, kwargs)
    except Exception as error:
        return f"it fails there ({type(error).__name__}: {first_line(error)})"
    return _compare(got, expected)


def first_line(error: Exception) -> str:
    """The error's message up to its first line break (messages here are one line of a
    refusal)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def admits(program: torch.export.ExportedProgram, args: tuple, kwargs: dict) -> bool:
    """Whether the program's input checks (range constraints, static sizes) take the inputs."""
    try:
        program._graph_module_flat_inputs(args, kwargs)
    except Exception:
        return False
    return True


def runnable(program: torch.export.ExportedProgram, args: tuple, kwargs: dict) -> bool:
    tensors = [t for t in pytree.tree_leaves((args, kwargs, program.state_dict,
                                              program.constants)) if isinstance(t, torch.Tensor)]
    return not any(t.is_meta or isinstance(t, FakeTensor) for t in tensors)


def _run(program: torch.export.ExportedProgram, args: tuple, kwargs: dict) -> list:
    """The functional graph's outputs (mutated state included) on copies of the inputs."""
    args, kwargs = pytree.tree_map_only(torch.Tensor, lambda t: t.detach().clone(),
                                        (args, kwargs))
    flat = program._graph_module_flat_inputs(args, kwargs)
    # Each program draws the same random numbers, and the caller's generator is left alone.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(RUN_SEED)
        return list(pytree.tree_leaves(program.graph_module(*flat)))


def _compare(got: list, expected: list) -> Optional[str]:
    if len(got) != len(expected):
        return f"it has {len(got)} outputs where the trace has {len(expected)}"
    for i, (a, b) in enumerate(zip(got, expected)):
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            if a.shape != b.shape or a.dtype != b.dtype:
                return (f"its output {i} is {tuple(a.shape)} {a.dtype} where the trace's is "
                        f"{tuple(b.shape)} {b.dtype}")
            close = torch.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True) \
                if a.is_floating_point() or a.is_complex() else torch.equal(a, b)
            if not close:
                return f"its output {i} has other values"
        elif a != b:
            return f"its output {i} is {a!r} where the trace's is {b!r}"
    return None
