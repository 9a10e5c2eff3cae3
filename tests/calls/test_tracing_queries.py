"""Checks library code makes to pick export-friendly paths answer as under torch.export.

One module asks every query and returns the answers as tensors; strict_tracer's program and
torch.export's (strict) must return the same, and eager must see its own answers afterwards
(the export leaves no global state changed).
"""
from __future__ import annotations

import warnings

import pytest
import torch
import torch._dynamo.external_utils
import torch.fx._symbolic_trace

import strict_tracer
from support.export_compare import traced_program

QUERIES = {
    "torch.compiler.is_compiling": torch.compiler.is_compiling,
    "torch.compiler.is_exporting": torch.compiler.is_exporting,
    "torch.compiler.is_dynamo_compiling": torch.compiler.is_dynamo_compiling,
    "torch._dynamo.is_compiling": torch._dynamo.external_utils.is_compiling,
    "torch._utils.is_compiling": torch._utils.is_compiling,
    "torch.jit.is_tracing": torch.jit.is_tracing,
    "torch.jit.is_scripting": torch.jit.is_scripting,
    "torch.fx is_fx_tracing": torch.fx._symbolic_trace.is_fx_tracing,
    "torch.fx is_fx_symbolic_tracing": torch.fx._symbolic_trace.is_fx_symbolic_tracing,
    "no jit tracing state": lambda: torch._C._get_tracing_state() is None,
    "torch.distributed.is_available": torch.distributed.is_available,
    "torch.distributed.is_initialized": torch.distributed.is_initialized,
    "torch.are_deterministic_algorithms_enabled": torch.are_deterministic_algorithms_enabled,
    "torch.is_grad_enabled": torch.is_grad_enabled,
    "torch.is_autocast_enabled": torch.is_autocast_enabled,
    "torch.backends.cudnn.enabled": lambda: torch.backends.cudnn.enabled,
    "torch.backends.mkldnn.enabled": lambda: torch.backends.mkldnn.enabled,
    "torch.cuda.is_available": torch.cuda.is_available,
    "default dtype is float32": lambda: torch.get_default_dtype() is torch.float32,
}


def _transformers_queries() -> dict:
    try:
        from transformers.utils import import_utils
    except ImportError:
        return {}
    return {
        "transformers is_torchdynamo_compiling": import_utils.is_torchdynamo_compiling,
        "transformers is_torchdynamo_exporting": import_utils.is_torchdynamo_exporting,
        "transformers is_tracing": import_utils.is_tracing,
        "transformers is_jit_tracing": import_utils.is_jit_tracing,
    }


QUERIES.update(_transformers_queries())


class AskAll(torch.nn.Module):
    def forward(self, x):
        return tuple(x + (1 if query() else 0) for query in QUERIES.values())


def _answers(program, x) -> dict[str, bool]:
    return {name: bool(v.item()) for name, v in zip(QUERIES, program(x))}


def test_queries_answer_as_under_torch_export():
    x = torch.zeros(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eager_before = _answers(AskAll(), x)
        ours = _answers(strict_tracer.export(AskAll(), (x,)).module(), x)
        theirs = _answers(torch.export.export(AskAll(), (x,), strict=True).module(), x)
        eager_after = _answers(AskAll(), x)
    assert ours == theirs
    assert eager_after == eager_before
    assert ours["torch.compiler.is_compiling"] and not eager_before["torch.compiler.is_compiling"]


def test_batch_norm_sees_cudnn_off_as_under_torch_export():
    """F.batch_norm passes torch.backends.cudnn.enabled to aten.batch_norm."""
    mod = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    x = torch.randn(2, 3, 8, 8)

    def batch_norm_args(ep):
        (node,) = [n for n in ep.graph.nodes if "batch_norm" in str(n.target)]
        return str(node.target), node.args[5:]

    ours = traced_program(mod, (x,))
    theirs = torch.export.export(mod, (x,), strict=True)
    assert batch_norm_args(ours) == batch_norm_args(theirs)
    assert torch.backends.cudnn.enabled == torch._C._get_cudnn_enabled()


@pytest.mark.parametrize("query", [torch.compiler.is_compiling, torch.compiler.is_exporting])
def test_library_branch_on_compiling_takes_export_path(query):
    class Lib(torch.nn.Module):
        def forward(self, x):
            if query():
                return x * 2
            return x.tolist()          # the eager-only path would not export

    x = torch.randn(3)
    ep = strict_tracer.export(Lib(), (x,))
    torch.testing.assert_close(ep.module()(x), x * 2)
