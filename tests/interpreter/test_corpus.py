"""The differential corpus (tests/corpus): every program runs under CPython and under
strict_tracer; results or raised exceptions (type and message) must agree, and the sandbox
must leave every pre-existing object unchanged."""
from __future__ import annotations

import copy
import sys

import pytest
import torch

import strict_tracer
from corpus.support import collect, outcome, snapshot_globals
from support.helpers import assert_same
from strict_tracer.interpreter.standalone import run_python

PROGRAMS = collect()
PYTHON_RUNS = [(p, args) for p in PROGRAMS if p.kind == "python" for args in p.argsets]
TENSOR_PROGRAMS = [p for p in PROGRAMS if p.kind == "tensor"]


def _run_id(run) -> str:
    prog, args = run
    text = ",".join(repr(a) for a in args)
    return f"{prog.name}({text if len(text) < 30 else text[:27] + '...'})"


def test_corpus_is_large_enough():
    assert len(PYTHON_RUNS) + len(TENSOR_PROGRAMS) >= 200


@pytest.mark.parametrize("run", PYTHON_RUNS, ids=[_run_id(r) for r in PYTHON_RUNS])
def test_python_program_matches_cpython(run):
    prog, args = run
    module = sys.modules[prog.fn.__module__]
    before = snapshot_globals(module)
    got = outcome(lambda: run_python(prog.fn, *copy.deepcopy(args)))
    assert snapshot_globals(module) == before, "the sandbox did not restore the module's globals"
    want = outcome(lambda: prog.fn(*copy.deepcopy(args)))
    if got[0] == "raise" and issubclass(got[1], strict_tracer.StrictTracerError):
        pytest.fail(f"strict_tracer refused: {got[2]}")
    if not prog.check_message and want[0] == "raise":
        got, want = got[:2], want[:2]
    assert got == want


def _module_state(mod: torch.nn.Module) -> dict:
    state = {name: (id(value), value.clone()) for name, value in mod.state_dict(keep_vars=True).items()}
    for name, sub in mod.named_modules():
        state[f"{name}.__dict__"] = {k: id(v) for k, v in vars(sub).items()}
    return state


def _assert_state_unchanged(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, tuple):
            assert value[0] == after[key][0], f"{key} was replaced"
            torch.testing.assert_close(value[1], after[key][1], msg=f"{key} was changed")
        else:
            assert value == after[key], f"attributes of {key} changed"


@pytest.mark.parametrize("prog", TENSOR_PROGRAMS, ids=[p.name for p in TENSOR_PROGRAMS])
def test_tensor_program_matches_eager(prog):
    mod = prog.module_factory()
    inputs = prog.make_inputs()
    eager = copy.deepcopy(mod)      # ep.module() shares (and may update) mod's buffers
    before = _module_state(mod)
    ep = strict_tracer.export(mod, copy.deepcopy(inputs))
    _assert_state_unchanged(before, _module_state(mod))
    got = ep.module()(*copy.deepcopy(inputs))
    want = eager(*copy.deepcopy(inputs))
    assert_same(got, want)


def _signature_summary(ep) -> tuple:
    sig = ep.graph_signature
    return ([(str(s.kind), s.target) for s in sig.input_specs], [str(s.kind) for s in sig.output_specs])


@pytest.mark.slow
@pytest.mark.parametrize("prog", TENSOR_PROGRAMS, ids=[p.name for p in TENSOR_PROGRAMS])
def test_tensor_program_matches_torch_export(prog):
    """The same program through torch.export.export(strict=True): same signature and results,
    or, for programs marked `torch_export="fails"`, a refusal by torch.export while we match
    eager (valid Python that dynamo cannot trace); `torch_export="buffer assignment"`: the
    same but for our extra BUFFER_MUTATION output."""
    mod = prog.module_factory()
    inputs = prog.make_inputs()
    ours = strict_tracer.export(mod, copy.deepcopy(inputs))
    if prog.extra.get("torch_export") == "fails":
        with pytest.raises(Exception):
            torch.export.export(copy.deepcopy(mod), copy.deepcopy(inputs), strict=True)
        return
    ref = torch.export.export(copy.deepcopy(mod), copy.deepcopy(inputs), strict=True)
    ours_sig, ref_sig = _signature_summary(ours), _signature_summary(ref)
    if prog.extra.get("torch_export") == "buffer assignment":
        # Ours records the assigned buffer as a BUFFER_MUTATION output; torch.export drops it.
        assert ours_sig[1] == ["OutputKind.BUFFER_MUTATION"] + ref_sig[1]
        ours_sig = (ours_sig[0], ref_sig[1])
    assert ours_sig == ref_sig
    assert_same(ours.module()(*copy.deepcopy(inputs)), ref.module()(*copy.deepcopy(inputs)))
