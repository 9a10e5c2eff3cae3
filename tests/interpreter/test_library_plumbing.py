"""Library plumbing inside forward() as torch.export treats it: logging calls, NumPy and math
on plain Python numbers, `assert` on data-dependent values, copies of plain objects, and
sequences repeated by a size."""
from __future__ import annotations

import copy
import logging
import math

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.helpers import assert_same

np = pytest.importorskip("numpy")
log = logging.getLogger("strict_tracer.tests.plumbing")


def _both(model, args, dynamic_shapes=None):
    """The strict_tracer program, after checking it against eager and torch.export."""
    ep = strict_tracer.export(model, args, dynamic_shapes=dynamic_shapes)
    reference = torch.export.export(model, args, dynamic_shapes=dynamic_shapes, strict=True)
    assert_same(ep.module()(*args), model(*args))
    assert_same(ep.module()(*args), reference.module()(*args))
    return ep


class Logs(torch.nn.Module):
    def forward(self, x):
        log.warning("chunking %d dims", x.dim())
        logging.info("input %s", x)                                # a traced tensor: dropped
        log.warning("size %d", x.shape[0] * 2)                    # a symbolic size: dropped
        return x * 2


def test_logging_arguments_are_evaluated():
    with pytest.raises(AttributeError, match="missing"):
        strict_tracer.export(LogsMissing(), (torch.randn(2),))


def test_logging_calls_are_no_ops_on_the_graph(caplog):
    model = Logs()
    x = torch.randn(3, 2)
    with caplog.at_level(logging.DEBUG, logger="strict_tracer.tests.plumbing"):
        ep = strict_tracer.export(model, (x,), dynamic_shapes={"x": {0: Dim("n", min=2)}})
    assert "chunking 2 dims" in caplog.text       # plain arguments: emitted at trace time
    assert "size" not in caplog.text
    assert [n.target for n in ep.graph.nodes if n.op == "call_function"] == [
        torch.ops.aten.mul.Tensor]
    assert tuple(ep.module()(torch.randn(5, 2)).shape) == (5, 2)     # the size was not frozen


class LogsMissing(torch.nn.Module):
    def forward(self, x):
        log.error("%s", self.missing)
        return x


class PlainNumbers(torch.nn.Module):
    def forward(self, x):
        inv_freq = 1.0 / (np.log(float(10000)) ** (np.arange(0, 4, 2) / 4))
        scale = float(np.sqrt(x.shape[-1])) + math.log(2.0) + np.finfo(np.float32).eps
        return x * scale + torch.from_numpy(inv_freq).float().sum() + np.iinfo(np.int8).max


def test_numpy_and_math_on_plain_numbers_are_computed():
    _both(PlainNumbers(), (torch.randn(2, 4),))


def test_numpy_on_a_traced_tensor_is_refused_naming_the_call():
    class M(torch.nn.Module):
        def forward(self, x):
            return x * np.sqrt(x.shape[0])

    with pytest.raises(strict_tracer.GraphBreakError, match=r"NumPy call np\.sqrt"):
        strict_tracer.export(M(), (torch.randn(3),), dynamic_shapes={"x": {0: Dim("n")}})


def test_numpy_out_argument_is_refused():
    target = np.zeros(2)

    class M(torch.nn.Module):
        def forward(self, x):
            np.add(np.ones(2), 1, out=target)
            return x

    with pytest.raises(strict_tracer.GraphBreakError, match="out="):
        strict_tracer.export(M(), (torch.randn(3),))
    assert not target.any()


# Compiled here, not in this file: pytest rewrites the asserts of test modules.
_namespace: dict = {"torch": torch}
exec(compile("""
class AssertsLengths(torch.nn.Module):
    def forward(self, x, lengths):
        assert lengths.max().item() <= x.shape[1]
        return x * 2


class AssertsShape(torch.nn.Module):
    def forward(self, x):
        assert x.shape[0] > 10, "too short"
        return x
""", "<plumbing models>", "exec"), _namespace)
AssertsLengths, AssertsShape = _namespace["AssertsLengths"], _namespace["AssertsShape"]


def test_assert_on_data_becomes_a_runtime_assertion():
    x, lengths = torch.randn(2, 5), torch.tensor([3, 4])
    ep = _both(AssertsLengths(), (x, lengths))
    assert any("assert" in str(n.target) for n in ep.graph.nodes)
    with pytest.raises(RuntimeError):
        ep.module()(x, torch.tensor([3, 9]))


def test_assert_known_to_fail_raises_assertion_error():
    with pytest.raises(AssertionError, match="too short"):
        strict_tracer.export(AssertsShape(), (torch.randn(3),))


class Config:
    def __init__(self):
        self.scale = 2

    def __getattribute__(self, name):
        return object.__getattribute__(self, name)


CONFIG = Config()


class CopiesConfig(torch.nn.Module):
    def forward(self, x):
        local = copy.copy(CONFIG)
        local.scale = 3
        deep = copy.deepcopy(CONFIG)
        return x * local.scale * CONFIG.scale * deep.scale


def test_copy_of_an_object_with_getattribute_is_interpreted():
    """torch.export strict refuses this (Dynamo cannot trace type.__getattribute__)."""
    x = torch.randn(2)
    assert_same(strict_tracer.export(CopiesConfig(), (x,)).module()(x), CopiesConfig()(x))
    assert CONFIG.scale == 2


class RepeatsSizes(torch.nn.Module):
    def forward(self, x):
        sizes = [(x.shape[1], x.shape[2])] * x.shape[0]
        return x.sum((1, 2)) + len(sizes), sizes


def test_sequence_repeated_by_a_size():
    x = torch.randn(3, 4, 5)
    ep = strict_tracer.export(RepeatsSizes(), (x,), dynamic_shapes={"x": {0: Dim.AUTO}})
    assert_same(ep.module()(x), RepeatsSizes()(x))
    with pytest.raises(strict_tracer.ConstraintViolationError, match="b = 3"):
        strict_tracer.export(RepeatsSizes(), (x,), dynamic_shapes={"x": {0: Dim("b")}})
