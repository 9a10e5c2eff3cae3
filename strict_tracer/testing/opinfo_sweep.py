"""The OpInfo sweep: every op of torch's OpInfo database, exported with every dim `Dim.AUTO`.

Each sample input of an op (`torch.testing._internal.common_methods_invocations.op_db`, CPU,
float32 where supported) is wrapped in a module whose inputs are the sample's tensors; the
rest of the sample is constant. The module is exported by strict_tracer and by
torch.export (strict), both with `Dim.AUTO` on every dim, and judged:

- `torch_fails`: torch.export itself cannot export the sample (listed, not counted);
- `refused`: strict_tracer refuses or fails where torch.export exports;
- `specializes`: strict_tracer specializes an input dim that torch.export keeps symbolic;
- `wrong`: the program disagrees with eager at the example or at a second size that eager
  and torch.export's program accept, or refuses to run there;
- `symbolic`: the same input dims stay symbolic as with torch.export (`more_dynamic` notes
  samples where strict_tracer keeps more), and the program matches eager at a second size
  (`no_second_size` when no tried size moved the program's symbols or eager accepted none).

CLI: `python -m strict_tracer.testing.opinfo_sweep [--ops a,b] [--samples N] [--json FILE]`.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import torch
import torch.utils._pytree as pytree
from torch.export import Dim

from ..api import export
from .resize import resized_inputs, symbolic_dims

STEPS = (1, 2, 3, 5)          # how far each input symbol moves for the second size
TIMEOUT = 120                 # seconds per export


@dataclass
class SampleResult:
    op: str
    sample: int
    shapes: str
    verdict: str = ""
    detail: str = ""
    ours: list = field(default_factory=list)     # symbolic (input, dim) pairs
    torch: list = field(default_factory=list)
    second_size: str = ""
    seconds: float = 0.0


class SampleModule(torch.nn.Module):
    """Calls an op on one sample; the sample's tensors are the inputs, the rest is constant."""

    def __init__(self, op: Any, leaves: list, spec: Any, tensor_positions: list[int]):
        super().__init__()
        self.op = op
        self.leaves = leaves
        self.spec = spec
        self.tensor_positions = tensor_positions

    def forward(self, *tensors):
        leaves = list(self.leaves)
        for i, t in zip(self.tensor_positions, tensors):
            leaves[i] = t
        x, args, kwargs = pytree.tree_unflatten(leaves, self.spec)
        return self.op(x, *args, **kwargs)


def wrap_sample(op: Any, sample: Any) -> tuple[SampleModule, tuple]:
    leaves, spec = pytree.tree_flatten((sample.input, tuple(sample.args), dict(sample.kwargs)))
    positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]
    tensors = tuple(leaves[i] for i in positions)
    consts = [None if isinstance(leaf, torch.Tensor) else leaf for leaf in leaves]
    return SampleModule(op, consts, spec, positions), tensors


def auto_spec(tensors: tuple) -> tuple:
    return (tuple({d: Dim.AUTO for d in range(t.dim())} for t in tensors),)


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def fire(signum, frame):
        raise _Timeout(f"more than {seconds} s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def _clone(value: Any) -> Any:
    return pytree.tree_map(lambda v: v.clone() if isinstance(v, torch.Tensor) else v, value)


def _same(got: Any, want: Any, values: bool) -> str:
    """'' when the outputs agree (structure, shapes, dtypes and, if `values`, values)."""
    g_leaves, g_spec = pytree.tree_flatten(got)
    w_leaves, w_spec = pytree.tree_flatten(want)
    if g_spec != w_spec:
        return f"structure {g_spec} != {w_spec}"
    for i, (g, w) in enumerate(zip(g_leaves, w_leaves)):
        if isinstance(w, torch.Tensor):
            if not isinstance(g, torch.Tensor) or g.shape != w.shape or g.dtype != w.dtype:
                return f"output {i}: {getattr(g, 'shape', g)} vs eager {tuple(w.shape)} {w.dtype}"
            if w.dtype.is_floating_point and w.dtype.itemsize == 1:     # float8: no allclose
                g, w = g.float(), w.float()
            if values and not torch.allclose(g, w, rtol=1e-4, atol=1e-5, equal_nan=True):
                return f"output {i}: values differ"
        elif values and g != w and not (g != g and w != w):
            return f"output {i}: {g!r} vs eager {w!r}"
    return ""


def _eager(mod: SampleModule, tensors: tuple, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return mod(*_clone(tensors))


def _program(ep, tensors: tuple, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return ep.module()(*_clone(tensors))


def check_at_second_size(ep, ref, mod: SampleModule, tensors: tuple,
                         values: bool) -> tuple[str, str]:
    """(verdict, detail): 'ok' at the first moved size that eager and torch.export's program
    (`ref`) accept, 'wrong' on a difference or where only ours refuses to run,
    'no_second_size' if no size qualifies."""
    for step in STEPS:
        moved = resized_inputs(ep, tensors, {}, step)
        if moved is None:
            continue
        new = moved[0]
        try:
            want = _eager(mod, new)
        except Exception:
            continue                # the op itself rejects these sizes
        shapes = str([tuple(t.shape) for t in new])
        try:
            got = _program(ep, new)
        except Exception as exc:
            try:
                _program(ref, new)
            except Exception:
                continue            # torch.export's program has the same guard
            return "wrong", f"at {shapes}: the program fails where eager runs: {_first_line(exc)}"
        problem = _same(got, want, values)
        return ("wrong", f"at {shapes}: {problem}") if problem else ("ok", shapes)
    return "no_second_size", ""


def judge_sample(opinfo: Any, index: int, sample: Any) -> SampleResult:
    mod, tensors = wrap_sample(opinfo.op, sample)
    result = SampleResult(_name(opinfo), index, str([tuple(t.shape) for t in tensors]))
    spec = auto_spec(tensors)
    values = not opinfo.has_nondeterministic_output and not _random(opinfo)
    start = time.perf_counter()
    try:
        with _time_limit(TIMEOUT), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = torch.export.export(mod, tensors, dynamic_shapes=spec, strict=True)
    except Exception as exc:
        result.verdict, result.detail = "torch_fails", _first_line(exc)
        return result
    try:
        with _time_limit(TIMEOUT), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = export(mod, tensors, dynamic_shapes=spec)
    except Exception as exc:
        result.verdict, result.detail = "refused", _first_line(exc)
        return result
    finally:
        result.seconds = round(time.perf_counter() - start, 3)
    ours, theirs = symbolic_dims(ep), symbolic_dims(ref)
    result.ours, result.torch = sorted(ours), sorted(theirs)
    if not theirs <= ours:
        if _admits_other_sizes(ref, mod, tensors, theirs - ours):
            result.verdict = "specializes"
            result.detail = f"torch keeps {sorted(theirs - ours)} symbolic"
            return result
        # torch's symbol admits one value only (its guards pin it, our ranges did)
        result.detail = f"same size as torch's program admits for {sorted(theirs - ours)}"
    try:
        problem = _same(_program(ep, tensors), _eager(mod, tensors), values)
    except Exception as exc:
        problem = f"the program fails on the example: {_first_line(exc)}"
    if problem:
        result.verdict, result.detail = "wrong", f"at the example: {problem}"
        return result
    verdict, detail = check_at_second_size(ep, ref, mod, tensors, values)
    if verdict == "wrong":
        result.verdict, result.detail = "wrong", detail
        return result
    result.second_size = detail if verdict == "ok" else ""
    result.verdict = "symbolic" if verdict == "ok" else "no_second_size"
    if ours > theirs:
        result.detail = f"more_dynamic: also symbolic {sorted(ours - theirs)}"
    return result


def _admits_other_sizes(ref, mod: SampleModule, tensors: tuple, dims: set) -> bool:
    """Does torch.export's program run at a size where one of `dims` moved (and eager too)?"""
    for step in STEPS:
        moved = resized_inputs(ref, tensors, {}, step)
        if moved is None:
            continue
        new = moved[0]
        if all(new[i].shape[d] == tensors[i].shape[d] for i, d in dims):
            continue
        try:
            _eager(mod, new)
            _program(ref, new)
        except Exception:
            continue
        return True
    return False


_RANDOM_WORDS = ("rand", "dropout", "bernoulli", "normal", "multinomial", "uniform",
                 "exponential", "geometric", "cauchy", "log_normal", "rrelu")


def _random(opinfo: Any) -> bool:
    return any(w in opinfo.name for w in _RANDOM_WORDS)


def _name(opinfo: Any) -> str:
    return opinfo.name + (f".{opinfo.variant_test_name}" if opinfo.variant_test_name else "")


def _dtype(opinfo: Any) -> torch.dtype | None:
    dtypes = opinfo.supported_dtypes("cpu")
    for dt in (torch.float32, torch.int64, torch.bool, torch.complex64):
        if dt in dtypes:
            return dt
    return next(iter(dtypes), None)


def _usable(sample: Any) -> bool:
    """A sample with a tensor input of at least one dim that Dim.AUTO could keep symbolic."""
    leaves = pytree.tree_leaves((sample.input, tuple(sample.args), dict(sample.kwargs)))
    tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
    return bool(tensors) and all(t.layout is torch.strided for t in tensors) and \
        any(s >= 2 for t in tensors for s in t.shape)


def _dynamic_dims(sample: Any) -> int:
    leaves = pytree.tree_leaves((sample.input, tuple(sample.args), dict(sample.kwargs)))
    return sum(s >= 2 for t in leaves if isinstance(t, torch.Tensor) for s in t.shape)


def samples_of(opinfo: Any, limit: int, scan: int = 24) -> list[tuple[int, Any]]:
    """Of the op's first `scan` samples, the `limit` usable ones with the most dims that can
    stay symbolic (sizes >= 2)."""
    dtype = _dtype(opinfo)
    if dtype is None:
        return []
    torch.manual_seed(0)
    found = []
    for i, sample in enumerate(opinfo.sample_inputs("cpu", dtype, requires_grad=False)):
        if i >= scan:
            break
        if _usable(sample):
            found.append((i, sample))
    found.sort(key=lambda item: -_dynamic_dims(item[1]))
    return sorted(found[:limit], key=lambda item: item[0])


def op_db() -> list:
    from torch.testing._internal.common_methods_invocations import op_db as db
    return list(db)


def sweep(names: set[str] | None = None, samples: int = 1, log=None) -> list[SampleResult]:
    """Judge the first `samples` usable samples of every op (or of the ops in `names`)."""
    results = []
    for opinfo in op_db():
        name = _name(opinfo)
        if names is not None and name not in names:
            continue
        try:
            chosen = list(samples_of(opinfo, samples))
        except Exception as exc:
            results.append(SampleResult(name, -1, "", "torch_fails", f"samples: {_first_line(exc)}"))
            continue
        for index, sample in chosen:
            try:
                r = judge_sample(opinfo, index, sample)
            except Exception as exc:    # the sweep itself must go on
                r = SampleResult(name, index, "", "refused", f"checking: {_first_line(exc)}")
            results.append(r)
            if log is not None:
                print(f"{r.verdict:15} {r.op} #{r.sample} {r.shapes} {r.detail}", file=log,
                      flush=True)
    return results


def per_op(results: list[SampleResult]) -> dict[str, str]:
    """One verdict per op: its worst sample's."""
    order = ["wrong", "specializes", "refused", "no_second_size", "symbolic", "torch_fails"]
    ops: dict[str, str] = {}
    for r in results:
        have = ops.get(r.op)
        if have is None or order.index(r.verdict) < order.index(have):
            ops[r.op] = r.verdict
    return ops


def summary(results: list[SampleResult]) -> str:
    ops = per_op(results)
    counts = Counter(ops.values())
    more = sorted({r.op for r in results if r.detail.startswith("more_dynamic")})
    lines = [f"ops: {len(ops)}, samples: {len(results)}",
             *(f"  {k}: {counts.get(k, 0)}" for k in
               ("symbolic", "no_second_size", "specializes", "wrong", "refused", "torch_fails")),
             f"  (keep more dims symbolic than torch.export: {len(more)})"]
    for verdict in ("wrong", "specializes", "refused"):
        for r in results:
            if r.verdict == verdict:
                lines.append(f"{verdict}: {r.op} #{r.sample} {r.shapes}: {r.detail}")
    return "\n".join(lines)


# Ops whose difference from torch.export is known and not a shape-rule matter (the slow test
# lists them instead of failing on them).
KNOWN_DIFFERENCES = {
    # an f-string in the op's warning formats sizes; the interpreter specializes a size it
    # formats (the text must be eager's), where torch.export formats the symbol's name and
    # keeps the size dynamic. That is torch's choice for any text, not only warnings:
    # `x * len(f"{x.shape[0]}")` exports as `x * 3` (len("s77")) and is wrong at every size.
    "nn.functional.linear_cross_entropy.chunked", "nn.functional.linear_cross_entropy.chunked_none",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", help="comma-separated OpInfo names (default: all)")
    parser.add_argument("--samples", type=int, default=1, help="samples per op")
    parser.add_argument("--json", help="write every sample's result to this file")
    parser.add_argument("--quiet", action="store_true", help="no per-sample log on stderr")
    opts = parser.parse_args(argv)
    names = set(opts.ops.split(",")) if opts.ops else None
    results = sweep(names, opts.samples, None if opts.quiet else sys.stderr)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
