"""classify(): the call policy as a pure function of the callee, on a table of callables with
the exact answer each must get (the behaviour of each answer is tested by the export tests)."""
from __future__ import annotations

import functools
import gc
import hashlib
import math
import operator
import os
import random
import time
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch._library.custom_ops import CustomOpDef

from strict_tracer.errors import Category
from strict_tracer.interpreter.calls import policy
from strict_tracer.interpreter.calls.classify import Decision, How, classify
from strict_tracer.interpreter.calls.custom_ops import FakeContext
from strict_tracer.interpreter.calls.natives import outside_world_reason
from strict_tracer.interpreter.registry import CALL_SPECIAL, SPECIAL


def user_function(x):
    return x


class UserClass:
    def method(self):
        return 1

    def __call__(self, x):
        return x


class Identity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x


@torch.library.custom_op("classify_test::twice", mutates_args=())
def twice(x: torch.Tensor) -> torch.Tensor:
    return x * 2


def _disabled_target(x):
    return x


def _side_effect(why: str, fix: str) -> Decision:
    return Decision(How.REFUSE_NATIVE, reason=(Category.SIDE_EFFECT, why, fix))


_RANDOM = ("it draws from Python's global random state: the value would be frozen into the "
           "graph and the state advanced", "use torch.rand/torch.randn/torch.randint (recorded "
           "in the graph), or draw the value outside forward() and pass it in")

TABLE = [
    # builtins with handlers of their own (after CPython's argument check)
    ("len", lambda: len, Decision(How.SPECIAL_CHECKED, SPECIAL[len])),
    ("isinstance", lambda: isinstance, Decision(How.SPECIAL_CHECKED, SPECIAL[isinstance])),
    ("print", lambda: print, Decision(How.SPECIAL_CHECKED, SPECIAL[print])),
    ("next", lambda: next, Decision(How.SPECIAL_CHECKED, SPECIAL[next])),
    # a builtin method whose unbound method has a handler: the handler gets __self__ first
    ("str.join bound", lambda: ",".join, Decision(How.SPECIAL_BOUND, SPECIAL[str.join])),
    # pure natives run for real
    ("math.sqrt", lambda: math.sqrt, Decision(How.NATIVE)),
    ("list.append", lambda: list.append, Decision(How.NATIVE)),
    ("[].append", lambda: [].append, Decision(How.NATIVE)),
    ("{}.get", lambda: {}.get, Decision(How.NATIVE_READ)),
    ("dict.fromkeys", lambda: dict.fromkeys, Decision(How.NATIVE)),
    ("object().__eq__", lambda: object().__eq__, Decision(How.NATIVE)),
    # natives that touch the outside world, and C functions nobody vetted
    ("open", lambda: open, _side_effect("it opens a file",
                                        "read files outside forward() and pass the data in")),
    ("random.random", lambda: random.random, _side_effect(*_RANDOM)),
    ("time.time", lambda: time.time, _side_effect(
        "it reads the clock: the value would be frozen into the graph",
        "measure or read time outside forward()")),
    ("os.getcwd", lambda: os.getcwd, _side_effect(
        "it touches files, the process or its environment", "do this outside forward()")),
    ("gc.collect", lambda: gc.collect, Decision(How.REFUSE_NATIVE)),
    ("hashlib.sha256", lambda: hashlib.sha256, Decision(How.REFUSE_NATIVE)),
    ("np.add.reduce", lambda: np.add.reduce, Decision(How.REFUSE_NATIVE)),
    # NumPy natives without a handler go to numpy_calls (plain values only)
    ("ndarray.__add__", lambda: np.zeros(2).__add__, Decision(How.NUMPY)),
    # Python-level random functions are Python code: interpreted until they reach a native
    ("random.randint", lambda: random.randint, Decision(How.INLINE_METHOD)),
    # torch
    ("torch.add", lambda: torch.add, Decision(How.TENSOR_OP)),
    ("aten.add.Tensor", lambda: torch.ops.aten.add.Tensor, Decision(How.TENSOR_OP)),
    ("Tensor.add", lambda: torch.Tensor.add, Decision(How.TENSOR_OP)),
    ("torch.numel", lambda: torch.numel, Decision(How.TENSOR_OP)),
    ("constant.add", lambda: torch.ones(2).add, Decision(How.TENSOR_CONSTANT_METHOD)),
    ("constant.size", lambda: torch.ones(2).size, Decision(How.TENSOR_CONSTANT_METHOD)),
    ("F.relu", lambda: F.relu, Decision(How.INLINE_SOURCE_FN)),
    ("torch.is_tensor", lambda: torch.is_tensor, Decision(How.INLINE)),
    ("nn.Linear", lambda: torch.nn.Linear(2, 2), Decision(How.MODULE)),
    ("torch.Size", lambda: torch.Size, Decision(How.CONSTRUCT)),
    ("Function.apply", lambda: Identity.apply,
     Decision(How.SPECIAL_BOUND, SPECIAL[torch.autograd.Function.apply.__func__])),
    ("checkpoint", lambda: torch.utils.checkpoint.checkpoint,
     Decision(How.SPECIAL, SPECIAL[torch.utils.checkpoint.checkpoint])),
    ("torch.vmap", lambda: torch.vmap, Decision(How.SPECIAL, SPECIAL[torch.vmap])),
    ("manual_seed", lambda: torch.manual_seed, Decision(How.SPECIAL, SPECIAL[torch.manual_seed])),
    # custom ops: the CustomOpDef object and its OpOverload
    ("custom op def", lambda: twice, Decision(How.TYPE_HANDLER, CALL_SPECIAL[CustomOpDef])),
    ("custom op overload", lambda: torch.ops.classify_test.twice.default, Decision(How.TENSOR_OP)),
    # user Python
    ("function", lambda: user_function, Decision(How.INLINE)),
    ("lambda", lambda: (lambda x: x), Decision(How.INLINE)),
    ("bound method", lambda: UserClass().method, Decision(How.INLINE_METHOD)),
    ("method of a native", lambda: types.MethodType(math.sqrt, 4), Decision(How.UNWRAP_METHOD)),
    ("functools.partial", lambda: functools.partial(user_function, 1), Decision(How.UNWRAP_PARTIAL)),
    ("class", lambda: UserClass, Decision(How.CONSTRUCT)),
    ("int", lambda: int, Decision(How.SPECIAL, SPECIAL[int])),
    ("super", lambda: super, Decision(How.SPECIAL, SPECIAL[super])),
    ("callable instance", lambda: UserClass(), Decision(How.CALL_DUNDER, UserClass.__call__)),
    ("itemgetter", lambda: operator.itemgetter(0),
     Decision(How.TYPE_HANDLER, CALL_SPECIAL[operator.itemgetter])),
    ("not callable", lambda: 3, Decision(How.NOT_CALLABLE, reason="'int' object is not callable")),
    # escape hatches
    ("compiler.disable", lambda: torch.compiler.disable(_disabled_target),
     Decision(How.REFUSE_COMPILER_DISABLED)),
    ("assume_constant_result", lambda: torch._dynamo.assume_constant_result(lambda: 1),
     Decision(How.ASSUMED_CONSTANT)),
    # strict_tracer's own objects run natively
    ("trusted method", lambda: FakeContext(None, "op", None).new_dynamic_size,
     Decision(How.RUN_TRUSTED)),
]


@pytest.mark.parametrize("make, expected", [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_classify(make, expected):
    assert classify(make()) == expected


def test_outside_world_reasons_are_classifys():
    """The refusal classify returns is the one natives.py knows (one source of truth)."""
    for fn in (open, random.random, time.time, os.getcwd):
        assert classify(fn).reason == outside_world_reason(fn)


def test_every_answer_has_code():
    assert set(policy._RUN) == set(How)


def test_classify_is_pure():
    """Same callee, same answer, whatever was classified in between; no interpreter needed."""
    first = [classify(make()) for _, make, _ in TABLE]
    second = [classify(make()) for _, make, _ in reversed(TABLE)][::-1]
    assert first == second
