"""The run loop's fused instructions (interpreter/binding.py) behave as the instructions one by
one: values, exceptions, and where the exception is raised (the traceback's line and
instruction offset), on plain values and on the ones that go to the handlers."""
from .support import program


def _where(exc):
    """The raising instruction as CPython reports it: line (relative) and offset."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_lineno - tb.tb_frame.f_code.co_firstlineno, tb.tb_lasti


@program((5, 0), (2, 3), ("ab", 1), (2.5, 0.0), (None, 0))
def local_constant_operator(x, zero):
    """LOAD_FAST + LOAD_CONST + operator (`i % 3`), and LOAD_CONST + compare + jump."""
    out = []
    try:
        out.append(x % 3)
        out.append(x >> 1)
    except TypeError as exc:
        out.append(("type", str(exc), _where(exc)))
    try:
        out.append(x
                   // 0)
    except (ZeroDivisionError, TypeError) as exc:
        out.append((type(exc).__name__, str(exc), _where(exc)))
    try:
        if x < 3:
            out.append("small")
        elif x == 3:
            out.append("three")
        if x != 0:
            out.append("nonzero")
    except TypeError as exc:
        out.append(("compare", str(exc), _where(exc)))
    if zero == 0:
        out.append(("zero", zero))
    return out


@program((1, 2), (1, "b"), ([1], [2]), (0, None))
def local_pairs(a, b):
    """Two LOAD_FASTs in a row, one of them unbound, the second a jump target."""
    out = [a, b, (a, b)]
    c = a if b else b
    out.append((c, b))
    if b is None:
        del b
    try:
        out.append(a + b)
    except (TypeError, UnboundLocalError) as exc:
        out.append((type(exc).__name__, str(exc), _where(exc)))
    del a
    try:
        out.append((a, c))
    except UnboundLocalError as exc:
        out.append(("unbound", str(exc), _where(exc)))
    return out


@program((4,), (0,))
def loop_ends(n):
    """STORE_FAST + JUMP_BACKWARD, a bare JUMP_BACKWARD, FOR_ITER with and without the
    STORE_FAST after it, over builtin and Python iterators."""
    k, out = 0, []
    while k < n:
        k += 1
    for i in range(n):
        out.append(i)
    for a, b in [(1, 2), (3, 4)][:n]:
        out.append(a - b)
    for key, value in {"x": n}.items():
        out.append((key, value))
    for v in (j * 2 for j in range(n)):
        out.append(v)
    return k, out, [x for x in range(n) if x % 2 == 0]
