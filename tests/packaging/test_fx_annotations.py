"""torch.fx.traceback.annotate blocks in forward() tag nodes with meta["custom"] (under
preserve_node_meta), and generic-alias calls (`dict[str, int]()`) construct their origin."""
from typing import Any, Generic, TypeVar

import torch
import torch.fx.traceback as fx_traceback

import strict_tracer

T = TypeVar("T")


class Annotated(torch.nn.Module):
    def forward(self, x):
        with fx_traceback.annotate({"pp_stage": 0}):
            with fx_traceback.annotate({"bucket": 1}):
                x = x + 1
            x = x - 2
        return x / 3


def _custom(ep):
    """The user's annotation keys on each call node (torch adds private `_torchdynamo_*` keys
    of its own tracer in some states)."""
    return [(n.name, {k: v for k, v in n.meta.get("custom", {}).items() if not k.startswith("_")})
            for n in ep.graph.nodes if n.op == "call_function"]


def test_annotations_match_torch_export():
    x = torch.randn(5)
    with fx_traceback.preserve_node_meta():
        ours = strict_tracer.export(Annotated(), (x,))
        theirs = torch.export.export(Annotated(), (x,), strict=True)
    assert _custom(ours) == _custom(theirs)
    assert dict(_custom(ours))["add"] == {"pp_stage": 0, "bucket": 1}
    assert fx_traceback.current_meta == {}          # the annotation did not leak out


def test_annotations_need_preserve_node_meta():
    ep = strict_tracer.export(Annotated(), (torch.randn(5),))
    assert all(custom == {} for _, custom in _custom(ep))


class Box(Generic[T]):
    def __init__(self, value):
        self.value = value


def test_generic_alias_calls():
    class UsesAliases(torch.nn.Module):
        def forward(self, x):
            table = dict[str, Any](scale=2)
            box = Box[torch.Tensor](x)
            assert box.__orig_class__ == Box[torch.Tensor]
            return box.value * table["scale"] + len(list[int]([1, 2]))

    x = torch.randn(3)
    ep = strict_tracer.export(UsesAliases(), (x,))
    torch.testing.assert_close(ep.module()(x), UsesAliases()(x))
