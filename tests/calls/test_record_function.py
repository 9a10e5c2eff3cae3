"""torch.profiler.record_function blocks and decorators in forward(): the body is traced, the
profiler range is not part of the program (as in torch.export)."""
import torch

import strict_tracer


class Block(torch.nn.Module):
    def forward(self, x):
        with torch.profiler.record_function("block"):
            y = x.sin()
        return y + 1


class Decorated(torch.nn.Module):
    @torch.autograd.profiler.record_function("helper")
    def helper(self, x):
        return x.cos() * 2

    def forward(self, x):
        return self.helper(x) - 1


def _profiler_nodes(ep):
    return [n for n in ep.graph.nodes if "profiler" in str(n.target)]


def test_record_function_block_and_decorator():
    x = torch.randn(4, 4)
    for mod in (Block(), Decorated()):
        ours = strict_tracer.export(mod, (x,))
        theirs = torch.export.export(mod, (x,), strict=True)
        assert not _profiler_nodes(ours) and not _profiler_nodes(theirs)
        assert [n.target for n in ours.graph.nodes] == [n.target for n in theirs.graph.nodes]
        torch.testing.assert_close(ours.module()(x), mod(x))
