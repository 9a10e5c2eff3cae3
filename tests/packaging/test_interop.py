"""Interop (issue 12): the programs strict_tracer exports from real models work with every
tool downstream of torch.export — save/load, run_decompositions to core ATen,
torch.export.unflatten, torch.compile and AOTInductor — and agree with what the same tools
make of torch.export.export(strict=True)'s program for the same model.

Models: tiny GPT-2 and BERT (strict_tracer.testing.hf_models) and the ResNet-style CNN
(resnet_model), static and with Dim.DYNAMIC batch/sequence (HF) or batch/height/width (CNN).
A few cases run by default; the rest are `slow` (`pytest -m slow`).
"""
from __future__ import annotations

import copy
import functools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import torch
from torch.export import Dim

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("quiet_transformers")

import strict_tracer  # noqa: E402
from support.export_compare import live_nodes, live_op_counts, torch_reference  # noqa: E402
from support.helpers import assert_same  # noqa: E402
from support.resnet_model import resnet_model  # noqa: E402
from strict_tracer.testing.hf_models import CASES as HF_CASES  # noqa: E402
from strict_tracer.testing.hf_models import build as build_hf  # noqa: E402

TOLERANCE = dict(atol=1e-4, rtol=1e-4)


@dataclass
class Case:
    build: Callable[[], torch.nn.Module]
    inputs: Callable[..., tuple[tuple, dict]]     # size -> (args, kwargs)
    example_size: tuple
    fresh_sizes: tuple                            # other sizes, used when dynamic
    dynamic_shapes: Any = None


def _hf_case(name: str, dynamic: bool) -> Case:
    hf = HF_CASES[name]
    return Case(functools.partial(build_hf, name), lambda *size: ((), hf.inputs(*size)),
                hf.example_size, hf.fresh_sizes, hf.dynamic() if dynamic else None)


def _resnet_case(dynamic: bool) -> Case:
    spec = ({0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC},) if dynamic else None
    return Case(resnet_model, lambda *size: ((torch.randn(*size),), {}), (2, 3, 32, 32),
                ((3, 3, 20, 44), (1, 3, 33, 17)), spec)


CASE_BUILDERS = {
    "gpt2-static": lambda: _hf_case("gpt2", False),
    "gpt2-dynamic": lambda: _hf_case("gpt2", True),
    "bert-static": lambda: _hf_case("bert", False),
    "bert-dynamic": lambda: _hf_case("bert", True),
    "resnet-static": lambda: _resnet_case(False),
    "resnet-dynamic": lambda: _resnet_case(True),
}


def _params(default: set[str]):
    return [pytest.param(name, id=name, marks=() if name in default else (pytest.mark.slow,))
            for name in CASE_BUILDERS]


# Exports are cached per case (a model, its example inputs and both programs): the tools under
# test never change a program or a model, and re-exporting for every tool would multiply the cost.
@functools.lru_cache(maxsize=None)
def _case(name: str) -> Case:
    return CASE_BUILDERS[name]()


@functools.lru_cache(maxsize=None)
def _model(name: str) -> torch.nn.Module:
    return _case(name).build()


@functools.lru_cache(maxsize=None)
def _example(name: str) -> tuple[tuple, dict]:
    case = _case(name)
    torch.manual_seed(1)
    return case.inputs(*case.example_size)


@functools.lru_cache(maxsize=None)
def _ours(name: str) -> torch.export.ExportedProgram:
    args, kwargs = _example(name)
    return strict_tracer.export(_model(name), args, kwargs, dynamic_shapes=_case(name).dynamic_shapes)


@functools.lru_cache(maxsize=None)
def _theirs(name: str) -> torch.export.ExportedProgram:
    args, kwargs = _example(name)
    return torch_reference(_model(name), args, kwargs, _case(name).dynamic_shapes)


def _fresh_inputs(name: str) -> list[tuple[tuple, dict]]:
    """Inputs the program has not seen: new values, and new sizes when the case is dynamic."""
    case = _case(name)
    torch.manual_seed(2)
    sizes = [case.example_size] + (list(case.fresh_sizes) if case.dynamic_shapes else [])
    return [case.inputs(*size) for size in sizes]


def _assert_runs_like_eager(name: str, program: Callable) -> None:
    model = _model(name)
    for args, kwargs in _fresh_inputs(name):
        with torch.no_grad():
            want = model(*copy.deepcopy(args), **copy.deepcopy(kwargs))
            got = program(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        assert_same(got, want, **TOLERANCE)


def _ranges(ep: torch.export.ExportedProgram) -> dict[str, tuple[str, str]]:
    return {str(symbol): (str(vr.lower), str(vr.upper)) for symbol, vr in ep.range_constraints.items()}


# ---------------------------------------------------------------- 1. save / load
@pytest.mark.parametrize("name", _params({"resnet-dynamic"}))
def test_save_load_round_trip(name, tmp_path):
    ep = _ours(name)
    path = tmp_path / f"{name}.pt2"
    torch.export.save(ep, path)
    loaded = torch.export.load(path)
    assert str(loaded.graph_signature) == str(ep.graph_signature)
    assert _ranges(loaded) == _ranges(ep)
    assert loaded.call_spec.in_spec == ep.call_spec.in_spec
    assert loaded.call_spec.out_spec == ep.call_spec.out_spec
    _assert_runs_like_eager(name, loaded.module())


# ---------------------------------------------------------------- 2. run_decompositions
def _non_core(ep: torch.export.ExportedProgram) -> set[str]:
    """call_function targets outside core ATen (getitem and symbolic-size arithmetic included)."""
    return {str(n.target) for n in ep.graph.nodes if n.op == "call_function"
            and not (isinstance(n.target, torch._ops.OpOverload) and torch.Tag.core in n.target.tags)}


# GPT-2 attends with scaled_dot_product_attention, then `transpose(1, 2).reshape(...)`. In the
# functional IR (ours, and torch.export's own `run_decompositions({})`) that reshape is a view,
# valid for the strides of sdpa's kernel; the core table decomposes sdpa into math ops whose
# output has other strides, and the view fails. torch.export's program decomposes from its
# training IR, where the reshape is still a reshape. test_functional_form_decomposes_like_torch
# pins that this is torch's functional-IR behaviour too.
_SDPA_VIEW = pytest.mark.xfail(strict=True, raises=ValueError,
                               reason="functional IR's view after sdpa fails once sdpa is decomposed")


def _decomposition_params():
    for param in _params({"resnet-static"}):
        if param.values[0].startswith("gpt2"):
            param = pytest.param(*param.values, id=param.id, marks=(*param.marks, _SDPA_VIEW))
        yield param


@pytest.mark.parametrize("name", list(_decomposition_params()))
def test_run_decompositions_to_core_aten(name):
    core = _ours(name).run_decompositions()
    reference = _theirs(name).run_decompositions()
    # What is not core ATen is what torch.export's own run_decompositions leaves too
    # (_assert_tensor_metadata, operator.* on sizes, getitem).
    assert _non_core(core) <= _non_core(reference)
    ours, theirs = live_op_counts(core), live_op_counts(reference)
    assert ours == theirs, f"ours-theirs {ours - theirs}, theirs-ours {theirs - ours}"
    _assert_runs_like_eager(name, core.module())


@pytest.mark.slow
def test_functional_form_decomposes_like_torch():
    """torch.export's own functional IR of GPT-2 fails run_decompositions() the same way."""
    functional = _theirs("gpt2-static").run_decompositions({})
    with pytest.raises(ValueError, match="Cannot view a tensor"):
        functional.run_decompositions()


# ---------------------------------------------------------------- 3. unflatten
def _module_tree(unflat: torch.nn.Module) -> list[tuple[str, str]]:
    return [(fqn, type(m).__name__) for fqn, m in unflat.named_modules(remove_duplicate=False)]


def _placed_ops(ep: torch.export.ExportedProgram, ops: set[str]) -> Counter:
    """(op, nn_module_stack as (fqn, module type) pairs) of the live nodes calling `ops`."""
    return Counter((str(n.target), tuple(n.meta.get("nn_module_stack", {}).values()))
                   for n in live_nodes(ep) if str(n.target) in ops)


@pytest.mark.parametrize("name", _params({"resnet-dynamic"}))
def test_unflatten_restores_module_hierarchy(name):
    ours, theirs = _ours(name), _theirs(name)
    assert [e.fqn for e in ours.module_call_graph] == [e.fqn for e in theirs.module_call_graph]
    # Every op lands in the same module as in torch.export's functional program. Compared:
    # the ops both programs call equally often (where the functional rewrites differ, e.g. a
    # dynamic-size reshape, the op counts differ and live_op_counts-based tests report it), not
    # aten.sym_size.int, which torch tags with a placeholder module stack.
    functional = theirs.run_decompositions({})
    ours_ops, theirs_ops = live_op_counts(ours), live_op_counts(functional)
    shared = {op for op in ours_ops if ours_ops[op] == theirs_ops[op]} - {"aten.sym_size.int"}
    assert _placed_ops(ours, shared) == _placed_ops(functional, shared)

    unflat = torch.export.unflatten(ours)
    assert _module_tree(unflat) == _module_tree(torch.export.unflatten(theirs))
    _assert_runs_like_eager(name, unflat)


# ---------------------------------------------------------------- 4. torch.compile
@pytest.mark.parametrize("name", _params({"resnet-static"}))
def test_torch_compile_aot_eager(name):
    torch._dynamo.reset()
    _assert_runs_like_eager(name, torch.compile(_ours(name).module(), backend="aot_eager"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASE_BUILDERS))
def test_torch_compile_inductor(name):
    torch._dynamo.reset()
    _assert_runs_like_eager(name, torch.compile(_ours(name).module(), backend="inductor"))


# ---------------------------------------------------------------- 5. AOTInductor
@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASE_BUILDERS))
def test_aot_inductor_package(name, tmp_path):
    ep = _ours(name)
    path = torch._inductor.aoti_compile_and_package(ep, package_path=str(tmp_path / f"{name}.pt2"))
    runner = torch._inductor.aoti_load_package(path)
    _assert_runs_like_eager(name, runner)


# ---------------------------------------------------------------- 6. printing
# Under dynamic sizes strict_tracer keeps a reshape (or flatten) as itself, a view nobody
# writes through, since whether it can be a view depends on the sizes; torch's functional form
# resolves it with its own symbolic reasoning into `view(x, [sym_size, ...])`, and keeps
# whole-dim slices (`x[:, :]`, no-ops) that strict_tracer proved whole. Both compute the same
# values; for dynamic programs these nodes (and the sym_size nodes feeding torch's views) are
# left out of the comparison. Static programs are compared node for node.
_MAYBE_ALIASING = {"aten.reshape.default", "aten.view.default", "aten.flatten.using_ints",
                   "aten.sym_size.int"}

# `name: "f32[2, 8]" = torch.ops.aten.add.Tensor(args);  x = None`; asserts have no annotation.
_NODE_LINE = re.compile(r'^(?P<name>\w+)(?:: "(?P<annotation>[^"]*)")? = (?:torch\.ops\.)?'
                        r'(?P<target>[\w.]+)\((?P<args>.*)$')


def _left_out(target: str, args: str) -> bool:
    return target in _MAYBE_ALIASING or (
        target == "aten.slice.Tensor" and re.match(r"\w+, -?\d+, 0, 9223372036854775807\)", args))


def _symbols_by_first_use(text: str) -> str:
    """Size symbols renamed s0, s1, ... in order of first appearance. torch names a symbol
    after a hash of its tracer's source name for the input size (`L['flat_args'][0].size()[0]`
    for torch.export; strict_tracer's sources name the user's inputs, `L['x'].size()[0]`), and
    of two sizes found equal keeps the lower-named symbol: the names differ, the symbols
    each size gets do not."""
    order: dict[str, str] = {}
    return re.sub(r"\bs\d+\b", lambda m: order.setdefault(m[0], f"s{len(order)}"), text)


def _printed(ep: torch.export.ExportedProgram, dynamic: bool) -> dict[str, Any]:
    """The parts of `str(ep)` that must agree with torch.export's, with symbols renamed by first
    use and node names replaced by their position among the printed nodes: strict_tracer
    names nodes while tracing (`view_25` when 24 views were made, some later pruned or
    rewritten by functionalization), while torch's functional form is a re-trace
    (run_decompositions) that names the surviving nodes afresh (`view_7`, and `and_1` for
    `__and__`). Placeholder names are the user's and the lifted state's, compared as printed."""
    code, rest = _symbols_by_first_use(str(ep)).split("\nGraph signature:", 1)
    signature, ranges = rest.split("\nRange constraints:", 1)
    lines = [line.strip() for line in code.splitlines()]
    header = next(line for line in lines if line.startswith("def forward("))
    names, steps = {}, []
    for line in lines:
        match = _NODE_LINE.match(line)
        if match is None:
            continue
        if dynamic and _left_out(match["target"], match["args"]):
            names[match["name"]] = "<left out>"
            continue
        names[match["name"]] = f"<{len(steps)}>"
        steps.append((match["annotation"], match["target"]))
    signature_lines = [re.sub(r"^(\w+):", lambda m: names.get(m[1], m[1]) + ":", line.strip())
                       for line in signature.splitlines() if line.strip()]
    return {"placeholders": header, "nodes": steps, "signature": signature_lines,
            "range constraints": ranges.strip()}


@pytest.mark.parametrize("name", _params({"resnet-dynamic"}))
def test_printing_matches_torch_export(name):
    # strict_tracer exports the functional IR; torch.export's training IR of these models still
    # has in-place and maybe-aliasing ops, so its functional form is the one to compare, dead
    # nodes removed (torch keeps unused nodes, strict_tracer prunes them).
    reference = _theirs(name).run_decompositions({})
    reference.graph_module.graph.eliminate_dead_code()
    reference.graph_module.recompile()
    dynamic = _case(name).dynamic_shapes is not None
    ours, theirs = _printed(_ours(name), dynamic), _printed(reference, dynamic)
    assert ours["placeholders"] == theirs["placeholders"]
    assert ours["signature"] == theirs["signature"]
    assert ours["range constraints"] == theirs["range constraints"]
    assert ours["nodes"] == theirs["nodes"]
