"""assert_matches_eager: run a module and its ExportedProgram, compare everything observable."""
from __future__ import annotations

import copy
from typing import Any

import torch
import torch.utils._pytree as pytree


def _describe_path(path) -> str:
    return pytree.keystr(path) or "<output>"


def _compare(got: Any, want: Any, what: str, atol: float, rtol: float) -> list[str]:
    problems: list[str] = []
    got_flat, got_spec = pytree.tree_flatten_with_path(got)
    want_flat, want_spec = pytree.tree_flatten_with_path(want)
    if got_spec != want_spec:
        return [f"{what}: structure differs\n  exported: {got_spec}\n  eager:    {want_spec}"]
    for (path, g), (_, w) in zip(got_flat, want_flat):
        where = f"{what}{_describe_path(path)}"
        if isinstance(w, torch.Tensor):
            if not isinstance(g, torch.Tensor):
                problems.append(f"{where}: eager gives a tensor, the program gives {type(g).__name__}")
            elif g.shape != w.shape or g.dtype != w.dtype:
                problems.append(f"{where}: exported {tuple(g.shape)} {g.dtype} vs eager "
                                f"{tuple(w.shape)} {w.dtype}")
            elif not torch.allclose(g, w, atol=atol, rtol=rtol, equal_nan=True):
                diff = (g.double() - w.double()).abs()
                worst = diff.nan_to_num(float("inf")).argmax()
                index = tuple(int(i) for i in torch.unravel_index(worst, diff.shape)) if diff.dim() else ()
                problems.append(f"{where}: values differ (max abs diff {diff.max().item():.3g} at "
                                f"{index}: exported {g[index].item():.6g}, eager {w[index].item():.6g})")
        elif g != w:
            problems.append(f"{where}: exported {g!r} vs eager {w!r}")
    return problems


def assert_matches_eager(mod: torch.nn.Module, ep: torch.export.ExportedProgram, *args: Any,
                         atol: float = 1e-5, rtol: float = 1e-4, **kwargs: Any) -> None:
    """Run eager `mod` and `ep.module()` on separate copies of the inputs and assert that
    outputs, inputs mutated in place, and buffers agree. The message lists every difference
    (which output or input, shapes/dtypes, the worst element).

    The eager side runs on a deep copy of `mod`: ep.module() shares parameter and buffer
    storage with `mod` (as torch.export's programs do), so running both on `mod` would apply
    buffer updates twice.
    """
    eager_mod = copy.deepcopy(mod)
    eager_in = copy.deepcopy((args, kwargs))
    exported_in = copy.deepcopy((args, kwargs))
    runner = ep.module()
    want = eager_mod(*eager_in[0], **eager_in[1])
    got = runner(*exported_in[0], **exported_in[1])
    problems = _compare(got, want, "output", atol, rtol)
    problems += _compare(exported_in, eager_in, "input after the call", atol, rtol)
    eager_buffers = dict(eager_mod.named_buffers())
    exported_buffers = dict(runner.named_buffers())
    problems += _compare(exported_buffers, {k: eager_buffers[k] for k in exported_buffers},
                         "buffer after the call", atol, rtol)
    if problems:
        raise AssertionError("exported program does not match eager:\n  " + "\n  ".join(problems))
