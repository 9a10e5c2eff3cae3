"""Shape-rule answers kept per trace (ops/rule_memo.py): a repeated call is answered as before
only while the engine has learned nothing, and a program exported with the memo has the
same node metadata, ranges and guards as one exported without it."""
from __future__ import annotations

import sympy
import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.ops import clear_template_cache, rule_memo, shape_rules
from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import ShapeEnv
from support.helpers import CallFn, assert_same, run_both


def test_an_answer_is_kept_only_when_computing_it_taught_the_engine_nothing():
    env = ShapeEnv()
    n = env.create_size(5, "n")
    proxy = TensorProxy(None, TensorMeta((n, 3), torch.float32, torch.device("cpu")), "x")
    out = TensorMeta((5, 3), torch.float32, torch.device("cpu"))
    memo = rule_memo.memo_for(env)
    key = rule_memo.call_key(torch.ops.aten.relu.default, (proxy,), {}, [out], env)
    before = rule_memo.engine_state(env)
    env.evaluate(sympy.Gt(n.expr, 3), None)             # a guard while computing: not kept
    rule_memo.keep(memo, key, before, env, [out])
    assert rule_memo.recall(memo, key, env) is None
    before = rule_memo.engine_state(env)
    out.shape = (n, 3)
    rule_memo.keep(memo, key, before, env, [out])       # nothing learned: kept
    assert rule_memo.recall(memo, key, env) == [((n, 3), None)]
    env.check(sympy.Lt(n.expr, 100))                    # the engine learns: not used again
    assert rule_memo.recall(memo, key, env) is None
    assert rule_memo.memo_for(ShapeEnv()) is not memo


def _layers(x):
    """Repeated layers of views, copies and pointwise ops on symbolic sizes, with facts
    learned between repeats (a branch on a size, a data-dependent count)."""
    b, t, _ = x.shape
    for i in range(3):
        h = x.view(b, t, 2, 4).transpose(1, 2)
        k = h[:, :, None].expand(b, 2, 2, t, 4).reshape(b, 4, t, 4)
        x = x + (k[:, 1:3].transpose(1, 2).reshape(b, t, -1) * 0.1)
        if i == 1 and t > 3:
            x = x[:, :-1] if t > 5 else x * 2
            t = x.shape[1]
    n = (x > 0).sum()
    return x.reshape(b * t, 8)[: n.item() % 3 + 1] * 2, x.squeeze(0).unsqueeze(-1)


def _metadata(ep) -> list[str]:
    out = []
    for node in ep.graph.nodes:
        val = node.meta.get("val")
        if isinstance(val, torch.Tensor):
            out.append(f"{node.name}: {tuple(val.shape)} {val.stride()} {val.storage_offset()}")
        elif val is not None:
            out.append(f"{node.name}: {val}")
    return out


@pytest.mark.parametrize("spec", [({0: Dim.AUTO, 1: Dim.AUTO},),
                                  ({0: Dim("b", min=2, max=16), 1: Dim("t", min=6, max=64)},)])
def test_program_metadata_is_the_same_with_and_without_the_memo(spec, monkeypatch):
    mod, x = CallFn(_layers), torch.randn(2, 6, 8)
    hits = []
    recall = rule_memo.recall

    def counted(*args):
        kept = recall(*args)
        hits.append(kept is not None)
        return kept
    clear_template_cache()
    with monkeypatch.context() as m:
        m.setattr(shape_rules, "recall", counted)
        ours = strict_tracer.export(mod, (x,), dynamic_shapes=spec)
    clear_template_cache()
    with monkeypatch.context() as m:
        m.setattr(shape_rules, "recall", lambda *args: None)
        reference = strict_tracer.export(mod, (x,), dynamic_shapes=spec)
    assert any(hits) and not all(hits)
    assert _metadata(ours) == _metadata(reference)
    assert str(ours.range_constraints) == str(reference.range_constraints)
    assert str(ours.graph_module.code) == str(reference.graph_module.code)
    for size in ((2, 7), (3, 6), (5, 9)):
        got, want = run_both(mod, ours, (torch.randn(*size, 8),))
        assert_same(got, want)
