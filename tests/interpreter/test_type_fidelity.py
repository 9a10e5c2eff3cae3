"""Type fidelity: the traced program sees the classes eager Python shows it.

Every introspection path is a small module whose output depends on the answer (`x + 1` or
`x - 1`, or `x + len(text)` for a textual answer); the exported program must equal eager,
static and with a dynamic dimension. Program errors must read as eager's.
"""
import inspect
import sys
import types

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from torch import nn
from torch.export import Dim

import strict_tracer
from strict_tracer.testing.differential import check_program
from strict_tracer.testing.programs import programs

# Each path: an expression over `self` (with parameter `p`, buffer `b`, method `meth`) and the
# input `x`. Booleans choose x + 1 / x - 1; ints are added to x.
PATHS = {
    # the tensor's class
    "type_is_tensor": "type(x) is torch.Tensor",
    "class_is_tensor": "x.__class__ is torch.Tensor",
    "class_name": "x.__class__.__name__ == 'Tensor'",
    "class_qualname": "x.__class__.__qualname__ == 'Tensor'",
    "class_module": "len(x.__class__.__module__)",
    "type_name_len": "len(type(x).__name__)",
    "type_module": "type(x).__module__ == 'torch'",
    "repr_type": "len(repr(type(x)))",
    "str_class": "str(x.__class__) == \"<class 'torch.Tensor'>\"",
    "fstring_type": "len(f'{type(x).__name__}/{type(x).__qualname__}')",
    "mro": "len(type(x).__mro__) + (type(x).__mro__[1] is torch._C.TensorBase)",
    "bases": "type(x).__bases__ == (torch._C.TensorBase,)",
    "metaclass": "type(type(x)) is torch._C._TensorMeta",
    "type_eq": "type(x) == torch.Tensor",
    "type_in_tuple": "type(x) in (torch.Tensor, int)",
    "type_as_key": "{torch.Tensor: 5, nn.Parameter: 7}.get(type(x), 0)",
    "getattr_class": "getattr(x, '__class__') is torch.Tensor",
    "isinstance_tensor": "isinstance(x, torch.Tensor)",
    "isinstance_own_class": "isinstance(x, x.__class__)",
    "isinstance_parameter": "isinstance(x, nn.Parameter)",
    "issubclass_tensor": "issubclass(type(x), torch.Tensor)",
    "issubclass_parameter": "issubclass(x.__class__, nn.Parameter)",
    "is_tensor": "torch.is_tensor(x)",
    "isclass": "inspect.isclass(x.__class__)",
    "result_type": "type(x * 2) is torch.Tensor and type(x[0]) is torch.Tensor",
    "class_attr_missing": "hasattr(x.__class__, 'no_such_attribute')",
    # parameters and buffers read through the module
    "param_type": "type(self.p) is nn.Parameter",
    "param_isinstance": "isinstance(self.p, nn.Parameter)",
    "param_class_name": "len(self.p.__class__.__name__)",
    "param_module": "type(self.p).__module__ == 'torch.nn.parameter'",
    "param_is_tensor": "isinstance(self.p, torch.Tensor) and type(self.p) is not torch.Tensor",
    "parameters_iter": "sum(type(q) is nn.Parameter for q in self.parameters())",
    "param_op_result": "type(self.p * 2) is torch.Tensor",
    "buffer_type": "type(self.b) is torch.Tensor and not isinstance(self.b, nn.Parameter)",
    # methods of tensors
    "method_type": "len(type(x.add).__name__)",
    "method_isbuiltin": "inspect.isbuiltin(x.add) and not inspect.ismethod(x.add)",
    "method_name": "len(x.add.__name__ + x.add.__qualname__)",
    "method_self": "type(x.add.__self__) is torch.Tensor",
    "method_repr": "repr(x.add).startswith('<built-in method add of Tensor object at')",
    "python_method": "type(x.unflatten) is types.MethodType",
    # generators
    "genexpr_isinstance": "isinstance((i for i in range(2)), types.GeneratorType)",
    "genexpr_inspect": "inspect.isgenerator(i for i in range(2))",
    "genexpr_type_name": "len(type(i for i in range(2)).__name__)",
    "gen_class": "genf().__class__ is types.GeneratorType",
    "gen_names": "len(genf().__name__ + genf().__qualname__)",
    "gen_repr": "repr(genf()).startswith('<generator object genf at 0x')",
    "gen_frame": "genf().gi_frame.f_code is genf.__code__",
    "gen_suspended": "gen_states()",
    "gen_function": "inspect.isgeneratorfunction(genf) and not inspect.isgenerator(genf)",
    # functions, methods, frames, exceptions, tracebacks
    "function": "inspect.isfunction(helper) and isinstance(helper, types.FunctionType)",
    "lambda": "type(lambda: 0) is types.FunctionType",
    "bound_method": "isinstance(self.meth, types.MethodType) and inspect.ismethod(self.meth)",
    "module_class": "type(self) is Probe and self.__class__.__name__ == 'Probe'",
    "frame": "inspect.isframe(sys._getframe()) and type(sys._getframe()) is types.FrameType",
    "frame_code": "sys._getframe().f_code.co_name == 'forward'",
    "currentframe": "len(inspect.currentframe().f_code.co_name)",
    "exception": "exception_class()",
    "traceback": "traceback_type()",
    "traceback_chain": "traceback_chain()",
    "traceback_reraise": "traceback_reraise()",
    "traceback_exc_info": "traceback_exc_info()",
    "traceback_replaced": "traceback_replaced()",
    # iterators the interpreter implements itself
    "sequence_iterator": "len(type(iter(Seq())).__name__)",
    "callable_iterator": "len(type(iter(helper, 2)).__name__)",
    "reversed_sequence": "type(reversed(Seq())) is reversed",
    # sizes and symbolic scalars
    "size_type": "type(x.size()) is torch.Size",
    "dim_is_int": "type(x.shape[0]) is int and isinstance(x.size(0), int)",
    "dim_class": "len(x.shape[-1].__class__.__name__)",
    "dtype_type": "type(x.dtype) is torch.dtype",
    "numel_type": "isinstance(x.numel(), int)",
}


def helper():
    return 1


def genf():
    yield 1


def gen_states():
    g = genf()
    before = g.gi_suspended
    next(g)
    return (not before) and g.gi_suspended and g.gi_running is False


def exception_class():
    try:
        {}[1]
    except Exception as e:
        return type(e) is KeyError and e.__class__.__mro__[1] is LookupError


def traceback_type():
    try:
        raise ValueError("a")
    except ValueError as e:
        return inspect.istraceback(e.__traceback__) and isinstance(e.__traceback__, types.TracebackType)


def _raises():
    raise ValueError("inner")


def _reraises():
    try:
        _raises()
    except ValueError:
        raise


def _tb_summary(tb) -> int:
    """Lines, instruction offsets and function names of a traceback chain, as one number."""
    total = 0
    while tb is not None:
        total = total * 7 + tb.tb_lineno + tb.tb_lasti + len(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return total % 100_003


def traceback_chain():
    try:
        _raises()
    except ValueError as e:
        return _tb_summary(e.__traceback__) + isinstance(e.__traceback__.tb_frame, types.FrameType)


def traceback_reraise():
    try:
        _reraises()
    except ValueError as e:
        first = _tb_summary(e.__traceback__)
        try:
            raise e
        except ValueError as again:
            return first + 3 * _tb_summary(again.__traceback__)


def traceback_exc_info():
    try:
        _raises()
    except ValueError:
        tb = sys.exc_info()[2]
        return _tb_summary(tb) + (tb.tb_frame.f_code.co_name == "traceback_exc_info")


def traceback_replaced():
    try:
        _raises()
    except ValueError as e:
        e.with_traceback(None)
        cleared = e.__traceback__ is None
        try:
            raise e
        except ValueError as again:
            return cleared + _tb_summary(again.__traceback__)


class Seq:
    def __getitem__(self, i):
        if i >= 2:
            raise IndexError(i)
        return i

    def __len__(self):
        return 2


class Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.ones(3))
        self.register_buffer("b", torch.ones(3))

    def meth(self):
        return 0


def _module(name: str, expr: str) -> nn.Module:
    source = (f"def forward(self, x):\n    answer = {expr}\n"
              f"    if type(answer) is bool:\n        return x + 1 if answer else x - 1\n"
              f"    return x + answer\n")
    namespace = dict(globals())
    exec(compile(source, f"<fidelity {name}>", "exec"), namespace)
    return type("Probe", (Probe,), {"forward": namespace["forward"]})()


def _check(name: str, dynamic: bool) -> None:
    module = _module(name, PATHS[name])
    x = torch.randn(3)
    want = module(x)
    spec = ({0: Dim.DYNAMIC},) if dynamic else None
    ep = strict_tracer.export(module, (x,), dynamic_shapes=spec)
    got = ep.module()(x)
    assert torch.equal(got, want), f"{PATHS[name]}: exported {got - x}, eager {want - x}"


def test_paths_cover_at_least_thirty_introspections():
    assert len(PATHS) >= 30


@pytest.mark.parametrize("name", sorted(PATHS))
def test_introspection_matches_eager(name):
    _check(name, dynamic=False)


@pytest.mark.parametrize("name", ["type_is_tensor", "class_name", "param_isinstance", "dim_is_int",
                                  "dim_class", "numel_type", "genexpr_inspect", "method_type",
                                  "size_type"])
def test_introspection_matches_eager_with_dynamic_dims(name):
    _check(name, dynamic=True)


def test_the_issue_example_exports_the_eager_branch():
    class M(nn.Module):
        def forward(self, x):
            return x + 1 if x.__class__.__name__ == "Tensor" else x - 1

    x = torch.randn(4)
    ep = strict_tracer.export(M(), (x,))
    assert torch.equal(ep.module()(x), x + 1)
    assert "sub" not in str(ep.graph)


# ---------------------------------------------------------------------- error texts
ERRORS = ["x * None", "None + x", "x + 'a'", "x < 'a'", "x @ None", "x ** 'a'", "self.p * None",
          "max(x, None)", "x(1)", "x.no_such_attribute", "x.__class__.no_such_attribute",
          "self.p.no_such_attribute", "len(x.sum())", "iter(x.sum())", "x.shape[0](1)",
          "next(x)", "genf()()", "x.view(5)", "x.add(None)"]


def _error_of(fn) -> str:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the message is what is compared
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("no error")


@pytest.mark.parametrize("expr", ERRORS)
def test_program_errors_read_as_eager(expr):
    module = _module("error", expr)
    x = torch.randn(3)
    want = _error_of(lambda: module(x))
    got = _error_of(lambda: strict_tracer.export(module, (x,)))
    assert got.splitlines()[0] == want.splitlines()[0]


def test_failing_meta_kernels_log_nothing(caplog):
    module = _module("error", "x.unsqueeze(4)")
    with pytest.raises(IndexError):
        strict_tracer.export(module, (torch.randn(3),))
    assert not [r for r in caplog.records if "meta" in r.getMessage()]


# ---------------------------------------------------------------------- generated programs
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(programs(max_statements=3, focus="introspection"))
def test_generated_introspection_programs_match_eager(program):
    """The program generator's introspection statements (what campaigns run) export as eager
    runs them, with dynamic batch sizes too."""
    check_program(program, batches=(4, 7), dynamic=True)
