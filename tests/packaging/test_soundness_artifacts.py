"""Issue 17 (soundness): never a broken artifact, a hang, or a layout guessed from the example
sizes. Each case is compared with eager (and with torch.export where it exports)."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from torch.export import Dim

import strict_tracer
from strict_tracer import GraphBreakError, InternalTracerError
from strict_tracer.packaging.artifact_check import check_artifact
from strict_tracer.interpreter import core

aten = torch.ops.aten

# ---------------------------------------------------------------- opaque objects, globals
GLOBAL_LINEAR = nn.Linear(4, 4)


class UsesGlobalModule(nn.Module):
    def forward(self, x):
        return GLOBAL_LINEAR(x) * 2


def test_module_reached_through_a_global_is_captured_as_torch_export_captures_it():
    """Its parameters are detached tensor constants (torch.export strict=False's program;
    strict=True crashes with a KeyError), and ep.module() runs like eager."""
    mod, x = UsesGlobalModule(), torch.randn(3, 4)
    ep = strict_tracer.export(mod, (x,))
    theirs = torch.export.export(mod, (x,), strict=False)
    assert [(s.kind, s.target) for s in ep.graph_signature.input_specs] == \
        [(s.kind, s.target) for s in theirs.graph_signature.input_specs]
    for name, value in ep.constants.items():
        assert type(value) is torch.Tensor and not value.requires_grad
        assert torch.equal(value, theirs.constants[name])
    with torch.no_grad():
        assert torch.allclose(ep.module()(x), mod(x))
        other = torch.randn(3, 4)
        assert torch.allclose(ep.module()(other), mod(other))


def test_dynamically_quantized_linear_is_refused_with_a_fix():
    """Its packed weights are a TorchScript object, which torch.export refuses too; before,
    the export returned a program whose code held the object's repr (SyntaxError)."""
    mod = nn.Sequential(torch.ao.nn.quantized.dynamic.Linear(4, 4))
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(mod, (torch.randn(2, 4),))
    assert "opaque TorchScript object" in info.value.reason
    assert "LinearPackedParamsBase" in info.value.reason
    assert "quantize_pt2e" in info.value.hint


# ---------------------------------------------------------------- artifact validity
class SliceContiguousView(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.randn(6, 4))

    def forward(self, x):
        return (x + self.b)[:, :3].contiguous().view(-1)


def test_artifact_check_refuses_a_program_that_fails_at_other_sizes():
    """Dropping the copy of the exported program (the bug the check is a net for) makes the
    check refuse it, naming the sizes and the failure."""
    ep = strict_tracer.export(SliceContiguousView(), (torch.randn(2, 6, 4),),
                              dynamic_shapes=({0: Dim.DYNAMIC},))
    check_artifact(ep)
    clone = next(n for n in ep.graph.nodes if n.target is aten.clone.default)
    clone.replace_all_uses_with(clone.args[0])
    ep.graph.erase_node(clone)
    ep.graph_module.recompile()
    with pytest.raises(InternalTracerError, match=r"fails at input sizes \[\[3, 6, 4\]\]"):
        check_artifact(ep)


def test_artifact_check_refuses_an_unprintable_program():
    ep = strict_tracer.export(UsesGlobalModule(), (torch.randn(3, 4),))
    node = next(n for n in ep.graph.nodes if n.target is aten.mul.Tensor)
    node.args = (node.args[0], object())     # its repr is no Python expression
    with pytest.raises(InternalTracerError, match="cannot be printed or turned into Python code"):
        check_artifact(ep)


def test_artifact_check_after_export_refuses_code_that_did_not_compile():
    """export() does not generate the code a second time: ExportedProgram() compiled it, or
    fell back (with a warning) to a GraphModule compiled from an empty graph, which is refused."""
    ep = strict_tracer.export(UsesGlobalModule(), (torch.randn(3, 4),))
    check_artifact(ep, compiled=True)
    node = next(n for n in ep.graph.nodes if n.target is aten.mul.Tensor)
    node.args = (node.args[0], object())
    with pytest.warns(UserWarning, match="Unable to execute the generated python source"):
        ep = torch.export.ExportedProgram(
            torch.nn.Module(), ep.graph, ep.graph_signature, ep.state_dict, ep.range_constraints,
            ep.module_call_graph, constants=ep.constants, verifiers=ep.verifiers)
    with pytest.raises(InternalTracerError, match="cannot be printed or turned into Python code"):
        check_artifact(ep, compiled=True)


def test_artifact_check_prints_the_whole_program_when_a_value_may_not_print():
    """After export, the graph's printed form is not generated again when every node value is
    one the printer annotates; a dtype it has no abbreviation for sends it to str(ep)."""
    from strict_tracer.packaging.artifact_check import _plain_values
    ep = strict_tracer.export(UsesGlobalModule(), (torch.randn(3, 4),))
    assert _plain_values(ep)
    node = next(n for n in ep.graph.nodes if n.target is aten.mul.Tensor)
    node.meta["val"] = torch.empty(2, dtype=torch.uint4, device="meta")
    assert not _plain_values(ep)


class MaskedWriteThenCond(nn.Module):
    """A boolean-mask write (its index makes an unbacked size) before a torch.cond whose
    operand requires grad (cond then checks that no size made before it is left unbound)."""
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(6))

    def forward(self, x):
        v = x * self.w + 1
        y = x.clone()
        y[y > 0] = x[y > 0] * 2
        out = torch.cond(x.sum() > 0, lambda t, u: t + u, lambda t, u: t - u, (y, v.clone()))
        return out, y


def test_sizes_read_from_data_before_a_cond_are_bound_when_the_check_runs_the_program():
    """The check ran the graph in one call, leaving the mask's unbacked size pending, and
    refused a sound program (torch.export's own program too) with PendingUnbackedSymbolNotFound.
    Now it exports, passes the check for torch's program as well, and runs like eager."""
    mod, spec = MaskedWriteThenCond(), ({0: Dim.AUTO, 1: Dim.AUTO},)
    ep = strict_tracer.export(mod, (torch.randn(4, 6),), dynamic_shapes=spec)
    check_artifact(torch.export.export(mod, (torch.randn(4, 6),), dynamic_shapes=spec,
                                       strict=True))
    for batch in (2, 4, 7):
        for seed in range(3):
            x = torch.randn(batch, 6, generator=torch.Generator().manual_seed(seed))
            got, want = ep.module()(x), mod(x)
            for g, w in zip(got, want):
                torch.testing.assert_close(g, w)


# ---------------------------------------------------------------- aliasing under dynamic sizes
VIEW_OF_SLICE_PROGRAMS = {
    "contiguous_view": lambda x, b: (x + b)[:, :3].contiguous().view(-1),
    "reshape": lambda x, b: (x + b)[:, 1:4].reshape(-1, 4),
    "transpose_contiguous": lambda x, b: (x + b).transpose(1, 2)[:, :2].contiguous().view(x.shape[0], -1),
    "narrow_reshape": lambda x, b: (x * b).narrow(2, 1, 2).reshape(x.shape[0], -1),
    "select_contiguous": lambda x, b: (x + b)[:, 2].contiguous().view(-1),
    "contiguous_of_full_slice": lambda x, b: (x + b)[:, :].contiguous().view(-1),
}


class Lambda(nn.Module):
    def __init__(self, fn, requires_grad):
        super().__init__()
        self.fn = fn
        self.b = nn.Parameter(torch.randn(6, 4), requires_grad=requires_grad)

    def forward(self, x):
        return self.fn(x, self.b)


def _copies(ep) -> int:
    """Nodes that copy: clones, and reshapes kept whole (they copy at run time when the
    sizes need it; a static program has the clone the example sizes need instead)."""
    return sum(n.target in (aten.clone.default, aten.copy.default, aten.reshape.default)
               for n in ep.graph.nodes)


@pytest.mark.parametrize("requires_grad", [True, False], ids=["param", "frozen"])
@pytest.mark.parametrize("name", sorted(VIEW_OF_SLICE_PROGRAMS))
def test_views_of_slices_under_dynamic_sizes_match_eager(name, requires_grad):
    """The layout of a slice of an op's output is its own (not a dense copy's): contiguous()
    and reshape() copy where eager copies, at every batch size; the dynamic program has as
    many copies (or reshapes deciding at run time) as the static one."""
    mod = Lambda(VIEW_OF_SLICE_PROGRAMS[name], requires_grad)
    x = torch.randn(2, 6, 4)
    dynamic = strict_tracer.export(mod, (x,), dynamic_shapes=({0: Dim.DYNAMIC},))
    static = strict_tracer.export(mod, (x,))
    assert _copies(dynamic) == _copies(static)
    with torch.no_grad():
        for batch in (2, 3, 5, 9):
            xb = torch.randn(batch, 6, 4)
            assert torch.allclose(dynamic.module()(xb), mod(xb))


# ---------------------------------------------------------------- termination
class ContextCycle(nn.Module):
    def forward(self, x):
        try:
            raise ValueError("a")
        except ValueError as ex:
            ex.__context__ = ex
            try:
                raise TypeError("b")
            except TypeError as err:
                same = err.__context__ is ex and ex.__context__ is ex
                return x + (1 if same else 2)


def test_exception_context_cycle_made_by_the_program_does_not_hang():
    """CPython walks a context chain with a cycle check (tortoise and hare) and leaves a cycle
    the program made itself; the export used to loop forever."""
    mod, x = ContextCycle(), torch.randn(3)
    ep = strict_tracer.export(mod, (x,))
    assert torch.equal(ep.module()(x), mod(x))


class CyclicStructures(nn.Module):
    def forward(self, x):
        items = [1]
        items.append(items)
        table = {"a": 1}
        table["self"] = table
        a, b = [], []
        a.append(b)
        b.append(a)
        text = repr(items) + str(table)
        return x + len(text) + (a == a)


def test_cyclic_containers_print_and_compare_as_in_cpython():
    mod, x = CyclicStructures(), torch.randn(3)
    ep = strict_tracer.export(mod, (x,))
    assert torch.equal(ep.module()(x), mod(x))


class EndlessLoop(nn.Module):
    def forward(self, x):
        n = 0
        while True:
            n += 1
        return x


def test_endless_python_loop_is_refused_at_the_loop(monkeypatch):
    """A loop that grows no graph stops at the documented step limit (lowered here)."""
    monkeypatch.setattr(core, "MAX_STEPS", 5_000)
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(EndlessLoop(), (torch.ones(2),))
    err = info.value
    assert "more than 5,000 loop iterations and calls" in err.reason
    assert err.frames[-1].source in ("while True:", "n += 1")


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class ExponentialCalls(nn.Module):
    def forward(self, x):
        return x + fib(40)


def test_unbounded_call_counts_are_refused(monkeypatch):
    """Recursion within the depth limit but with exponentially many calls is bounded too."""
    monkeypatch.setattr(core, "MAX_STEPS", 5_000)
    with pytest.raises(GraphBreakError, match="loop iterations and calls"):
        strict_tracer.export(ExponentialCalls(), (torch.ones(2),))



# ---------------------------------------------------------------- the campaign's classes
def _sleeps(*args, **kwargs):
    import time
    time.sleep(30)


def _differs(*args, **kwargs):
    raise AssertionError("outputs differ")


def _breaks(*args, **kwargs):
    raise RuntimeError("internal")


@pytest.mark.parametrize("check, kind", [(_sleeps, "hang"), (_differs, "wrong"), (_breaks, "crash")])
def test_campaign_classes_failures_and_stops_programs_over_the_time_limit(monkeypatch, check, kind):
    """A program past --timeout is stopped by SIGALRM and counted as a hang; a difference from
    eager is wrong; any other exception a crash."""
    from strict_tracer.testing import campaign
    monkeypatch.setattr(campaign, "check_program", check)
    stats = campaign.run(examples=1, mode="static", seed=3, timeout=0.2)
    assert stats["run"] == 1 and stats[kind] == 1 and stats["failed"] == 1
    assert stats["failures"][0]["kind"] == kind


@pytest.mark.parametrize("kind", ["view_of_slice", "exception_chain", "cyclic_structure", "group_split"])
def test_generator_emits_the_soundness_statements(kind):
    """Each new statement kind writes a valid program that exports dynamically and matches
    eager (the campaign runs them at scale)."""
    from hypothesis import given, settings, HealthCheck
    from hypothesis import strategies as st
    from strict_tracer.testing.differential import check_program
    from strict_tracer.testing.program_soundness import SOUNDNESS_STATEMENTS
    from strict_tracer.testing.programs import Program, _Writer

    @st.composite
    def one_statement(draw):
        w = _Writer(draw, 1)
        SOUNDNESS_STATEMENTS[kind](w)
        init = "".join(f"        {line}\n" for line in w.init) or "        pass\n"
        source = ("class Generated(torch.nn.Module):\n    def __init__(self):\n"
                  f"        super().__init__()\n{init}    def forward(self, x0):\n"
                  + "\n".join(w.lines) + f"\n        return ({w.tensors[-1]},)\n")
        return Program(source, 1, False)

    @settings(max_examples=8, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(one_statement())
    def check(program):
        assert check_program(program, batches=(4, 7, 2), dynamic=True).exported, program.source
    check()
