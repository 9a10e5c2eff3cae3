"""The oracle's errors and log records, told in the program's terms.

The oracle runs the program's tensor calls on fake tensors, so an error the call raises (the
program's own error, which eager raises too) names the fake: "unsupported operand type(s) for
*: 'FakeTensor' and 'NoneType'". Eager names the tensor's class (`Tensor`, `Parameter`), and so
must we. torch also logs every failing meta kernel at ERROR level; eager prints nothing there.
"""
from __future__ import annotations

import contextlib
import logging
import re
from typing import Iterator, Sequence

from torch._subclasses import fake_tensor

from strict_tracer.errors import OP_FAILURE
from strict_tracer.proxy import TensorProxy

_FAKE_REPR = re.compile(r"FakeTensor\(\.\.\., ")
_FAKE_NAME = re.compile(r"\bFakeTensor\b")


def in_user_terms(exc: BaseException, proxies: Sequence[TensorProxy]) -> BaseException:
    """`exc` with each mention of a fake tensor's class replaced, in order, by the eager
    class of the proxy it stood for (the proxies in argument order). Marked as a tensor op's
    failure (`errors.OP_FAILURE`) for export to raise it as torch does if forward lets it out."""
    setattr(exc, OP_FAILURE, True)
    if not exc.args or not isinstance(exc.args[0], str) or "FakeTensor" not in exc.args[0]:
        return exc
    names = [p.py_type.__name__ for p in proxies] or ["Tensor"]
    count = 0

    def name(_match: re.Match) -> str:
        nonlocal count
        count += 1
        return names[min(count, len(names)) - 1]

    text = _FAKE_REPR.sub("tensor(..., ", exc.args[0])
    exc.args = (_FAKE_NAME.sub(name, text), *exc.args[1:])
    return exc


class _FailedMetaFilter(logging.Filter):
    """Drops torch's "failed while attempting to run meta for ..." records: the failure reaches
    the program as its own exception, and eager logs nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("failed while attempting to run meta")


_filter = _FailedMetaFilter()


@contextlib.contextmanager
def quiet_meta_failures() -> Iterator[None]:
    """While active (only around the oracle's own calls), torch's fake-tensor logger drops its
    record of a failing meta kernel; nothing else about torch's logging changes."""
    log = fake_tensor.log
    log.addFilter(_filter)
    try:
        yield
    finally:
        log.removeFilter(_filter)
