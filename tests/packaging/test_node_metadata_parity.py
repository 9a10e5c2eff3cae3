"""source_fn_stack and torch_fn node metadata, compared with torch.export.export(strict=True)
on the same modules (source_fns.py)."""
import torch
import torch.nn.functional as F

import strict_tracer


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)
        self.act = torch.nn.ReLU()
        self.seq = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh())

    def forward(self, x, w):
        y = x * 2
        y = y / 2
        y = -y @ w
        z = y[0]
        y = y.view(-1).reshape(3, 3)
        y = F.gelu(y) + torch.relu(y)
        y = self.act(self.lin(y))
        y = self.lin(y)                   # a second call: linear_2
        y = self.seq(y)
        return y.sum(0) + z, torch.sum(y), y.cos()


def _metadata(ep, key):
    """`key` of each call node, in order (node names differ where our graph uses another
    op, e.g. view for the reshape of a contiguous tensor)."""
    return [n.meta.get(key) for n in ep.graph.nodes if n.op == "call_function"]


def _export_both(mod, args):
    return (strict_tracer.export(mod, args), torch.export.export(mod, args, strict=True))


def test_torch_fn_and_source_fn_stack_match_torch_export():
    args = (torch.randn(3, 3), torch.randn(3, 3))
    ours, theirs = _export_both(Block(), args)
    assert _metadata(ours, "torch_fn") == _metadata(theirs, "torch_fn")
    assert _metadata(ours, "source_fn_stack") == _metadata(theirs, "source_fn_stack")


def test_torch_fn_survives_run_decompositions():
    args = (torch.randn(3, 3), torch.randn(3, 3))
    ours, theirs = _export_both(Block(), args)
    ours_fns = _metadata(ours.run_decompositions(), "torch_fn")
    theirs_fns = _metadata(theirs.run_decompositions(), "torch_fn")
    assert ours_fns == theirs_fns
    assert ("linear_2", "builtin_function_or_method.linear") in ours_fns


def test_lifted_weights_carry_the_module_that_reads_them():
    args = (torch.randn(3, 3), torch.randn(3, 3))
    ours, theirs = _export_both(Block(), args)
    placeholders = lambda ep: {n.name: n.meta.get("source_fn_stack") for n in ep.graph.nodes
                               if n.op == "placeholder"}
    assert placeholders(ours) == placeholders(theirs)
    assert placeholders(ours)["p_lin_weight"] == [("linear_1", torch.nn.Linear)]


def test_metadata_inside_cond_branches():
    class Branchy(torch.nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda t: t.cos(), lambda t: t.sin(), (x,))

    ours = strict_tracer.export(Branchy(), (torch.randn(3),))
    found = {}
    for module in ours.graph_module.modules():
        for node in getattr(module, "graph", torch.fx.Graph()).nodes:
            if node.name in ("cos", "sin"):
                found[node.name] = node.meta.get("torch_fn")
    assert found == {"cos": ("cos_1", "method_descriptor.cos"),
                     "sin": ("sin_1", "method_descriptor.sin")}
