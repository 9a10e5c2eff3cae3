"""Control flow: loops, exceptions, with, assert, match."""
import contextlib

from corpus.support import program


@program((10,))
def loops_with_else(n):
    out = []
    for i in range(n):
        if i == 2:
            continue
        if i == 6:
            break
        out.append(i)
    else:
        out.append("no-break")
    k = 0
    while k < 3:
        k += 1
    else:
        out.append(("while-else", k))
    for _ in []:
        pass
    else:
        out.append("empty-else")
    return out


@program((3,), (0,))
def errors_of_inlined_instructions(n):
    """The run loop's own fast paths raise like their handlers (caught by the program)."""
    out = []
    for divisor in (n, 0):
        try:
            out.append(7 // divisor + 2 ** divisor - 1 / divisor)
        except ZeroDivisionError as exc:
            out.append(("zde", str(exc)))
    try:
        out.append(n < "a")
    except TypeError as exc:
        out.append(("type", str(exc)))
    d = {i: i for i in range(n + 1)}
    try:
        for k in d:
            d[k + n + 1] = k
    except RuntimeError as exc:
        out.append(("size", str(exc)))
    d = {1: 1, 2: 2}
    try:
        for k in d:
            del d[k]
            d[k + 10] = 0
    except RuntimeError as exc:
        out.append(("keys", str(exc), sorted(d)))
    s = {1, 2}
    try:
        for v in s:
            s.add(v + 5)
    except RuntimeError as exc:
        out.append(("set", str(exc)))
    return out


@program((4,), (0,))
def loop_targets(n):
    """FOR_ITER and the STORE_FAST after it run as one step: every kind of loop target and
    iterator still behaves as CPython's (tuple targets, cells, generators, a jump back)."""
    out, total = [], 0
    for i in range(n):
        total += i
    else:
        out.append(("else", total, n and i))
    for i, (a, b) in enumerate(zip("xyz", range(n))):
        out.append((i, a, b))
    fns = []
    for cell in range(n):
        fns.append(lambda: cell)
    out.append([f() for f in fns])
    for value in (x * x for x in range(n)):
        if value > 4:
            break
        out.append(value)
    for ch in "ab":
        for j in range(2):
            out.append(ch * j)
    return out


class _Marker:
    pass


@program((1,), (2,))
def method_reads(n):
    """Builtin methods of plain values called from the CALL handler's own path, and the ones
    it hands to the call policy (a value it cannot prove plain, keywords)."""
    marker = _Marker()
    table, plain = {"k": marker, 1: "one"}, {"a": n, "b": [n, n + 1]}
    return (table.get("k") is marker, table.get(n, "missing"), plain.get("b"), plain.get("c", n),
            "{a}-{b}".format(a=n, b="x"), "a,b,c".split(",", n), [3, 1, 2].index(n),
            (1, 2, 1).count(1), "abc".upper(), sorted(plain.keys()))


@program((3,), (0,), (2.5,), ("s",), (None,))
def constant_operands(n):
    """A constant right operand and its operator run as one step of the run loop: the same
    results, the operator's own line in a traceback, and a jump to the operator alone."""
    out = []
    for flag in (True, False):
        try:
            out.append(n + (n if flag else 1))      # the jump lands on BINARY_OP
        except TypeError as exc:
            out.append(("type", str(exc)))
    try:
        out.append((n % 3, n >> 1 if type(n) is int else n, n == 0, n < 10, n ** 2))
    except TypeError as exc:
        out.append(("type", str(exc)))
    try:
        out.append(n
                   // 0)
    except (ZeroDivisionError, TypeError) as exc:
        out.append((type(exc).__name__, str(exc), exc.__traceback__.tb_lineno,
                    exc.__traceback__.tb_lasti))
    return out


@program((1,), (5,), ("b",), (True,), (-4,))
def errors_of_inlined_lookups(key):
    """The run loop's subscript and method-load fast paths raise like their handlers, and hand
    what they do not answer (a bool index, a str key into a list) to them."""
    out = []
    table, items, pair = {1: "one", "b": 2, True: "t"}, [10, 20, 30], (7, 8)
    for container in (table, items, pair, "text"):
        try:
            out.append(container[key])
        except (KeyError, IndexError, TypeError) as exc:
            out.append((type(exc).__name__, str(exc)))
    for value in (table, items, "text", 3, 2.5, None):
        try:
            out.append(value.get(key, "missing"))
        except AttributeError as exc:
            out.append(("attr", str(exc)))
        try:
            out.append(value.count(key))
        except (AttributeError, TypeError) as exc:
            out.append((type(exc).__name__, str(exc)))
    try:
        nested = {"k": items}
        out.append(nested["k"][key] + nested[key])
    except Exception as exc:        # the second lookup of a chain raises
        out.append((type(exc).__name__, str(exc)))
    return out


@program((0,), (2,), ("x",))
def try_except_else_finally(x):
    log = []
    try:
        log.append(10 / x)
    except ZeroDivisionError as exc:
        log.append(("zde", str(exc)))
    except TypeError:
        log.append("type")
    else:
        log.append("else")
    finally:
        log.append("finally")
    return log


@program()
def exception_variable_is_deleted():
    try:
        raise ValueError("v")
    except ValueError as exc:
        pass
    return exc  # noqa: F821


@program()
def raise_from_and_context():
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as outer:
        first = (type(outer.__cause__).__name__, outer.__suppress_context__,
                 type(outer.__context__).__name__)
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise RuntimeError("implicit")
    except RuntimeError as err:
        second = (err.__cause__, type(err.__context__).__name__, err.__suppress_context__)
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise RuntimeError("none") from None
    except RuntimeError as err:
        third = (err.__cause__, err.__suppress_context__)
    return first, second, third


@program()
def bare_raise_reraises():
    log = []
    try:
        try:
            raise IndexError("idx")
        except IndexError:
            log.append("caught")
            raise
    except LookupError as exc:
        log.append(type(exc).__name__)
    return log


@program()
def bare_raise_without_exception():
    raise


@program()
def finally_overrides_return():
    def f():
        try:
            return "try"
        finally:
            return "finally"  # noqa: B012

    def g():
        for i in range(3):
            try:
                if i == 1:
                    break
            finally:
                pass
        return i

    def h():
        try:
            raise ValueError
        finally:
            return "swallowed"  # noqa: B012
    return f(), g(), h()


@program()
def nested_finally_order():
    log = []

    def f():
        try:
            try:
                log.append("a")
                return 1
            finally:
                log.append("b")
        finally:
            log.append("c")
    return f(), log


@program()
def exception_in_except_handler():
    try:
        try:
            raise ValueError("first")
        except ValueError:
            {}["missing"]
    except KeyError as exc:
        return type(exc.__context__).__name__, str(exc.__context__)


@program()
def exception_attributes_and_args():
    class MyError(Exception):
        def __init__(self, code, text):
            super().__init__(text)
            self.code = code

    try:
        raise MyError(42, "boom")
    except MyError as exc:
        return exc.code, exc.args, str(exc), repr(exc), isinstance(exc, Exception)


@program()
def custom_exception_hierarchy():
    class Base(Exception):
        pass

    class Child(Base):
        pass

    caught = []
    for cls in (Base, Child, KeyError):
        try:
            raise cls("x")
        except Child:
            caught.append("child")
        except Base:
            caught.append("base")
        except (KeyError, IndexError) as e:
            caught.append(type(e).__name__)
    return caught


@program()
def catch_non_exception_class():
    try:
        raise ValueError
    except int:
        return "nope"


@program()
def raise_non_exception():
    raise 42


@program()
def exception_groups_star():
    log = []
    try:
        raise ExceptionGroup("group", [ValueError("v1"), TypeError("t"), ValueError("v2")])
    except* ValueError as eg:
        log.append(("value", [str(e) for e in eg.exceptions]))
    except* TypeError as eg:
        log.append(("type", len(eg.exceptions)))
    return log


@program()
def exception_groups_unhandled_rest():
    try:
        try:
            raise ExceptionGroup("g", [ValueError("v"), KeyError("k")])
        except* ValueError:
            pass
    except ExceptionGroup as rest:
        return [type(e).__name__ for e in rest.exceptions]


@program()
def except_star_naked_exception():
    seen = []
    try:
        raise ValueError("plain")
    except* ValueError as eg:
        seen.append((type(eg).__name__, [str(e) for e in eg.exceptions]))
    return seen


@program()
def assert_statements():
    log = []
    try:
        assert 1 == 2, "custom message"
    except AssertionError as exc:
        log.append(str(exc))
    try:
        assert []
    except AssertionError as exc:
        log.append(exc.args)
    assert True
    return log


@program()
def with_protocol_and_suppression():
    log = []

    class CM:
        def __init__(self, name, swallow=False):
            self.name, self.swallow = name, swallow

        def __enter__(self):
            log.append(("enter", self.name))
            return self

        def __exit__(self, et, ev, tb):
            log.append(("exit", self.name, et.__name__ if et else None, str(ev) if ev else None))
            return self.swallow

    with CM("a") as a, CM("b"):
        log.append(a.name)
    with CM("s", swallow=True):
        raise KeyError("gone")
    try:
        with CM("n"):
            raise ValueError("kept")
    except ValueError:
        log.append("propagated")
    for i in range(3):
        with CM(i):
            if i == 1:
                continue
            if i == 2:
                break
    return log


@program()
def with_not_a_context_manager():
    with 42:
        pass


@program()
def contextmanager_decorator():
    log = []

    @contextlib.contextmanager
    def managed(tag):
        log.append(("setup", tag))
        try:
            yield tag.upper()
        except KeyError:
            log.append("handled")
        finally:
            log.append(("teardown", tag))

    with managed("x") as value:
        log.append(value)
    with managed("y"):
        raise KeyError("k")
    try:
        with managed("z"):
            raise ValueError("v")
    except ValueError:
        log.append("reraised")
    return log


@program()
def contextlib_helpers():
    log = []
    with contextlib.suppress(KeyError):
        {}["x"]
    with contextlib.nullcontext(5) as five:
        log.append(five)
    with contextlib.ExitStack() as stack:
        stack.callback(log.append, "callback")
        log.append("body")
    return log


@program((1,), ((1, 2),), ([1, 2, 3],), ({"x": 1, "y": 2},), ("s",), (3.0,), (None,), ({"x": 0},))
def match_statement(value):
    match value:
        case 1 | 2:
            return "small int"
        case (a, b):
            return ("pair", a, b)
        case [a, *rest] if len(rest) > 1:
            return ("long", a, rest)
        case {"x": x, "y": y, **others}:
            return ("point", x, y, others)
        case {"x": 0}:
            return "x zero"
        case str() as text:
            return ("str", text)
        case float(f):
            return ("float", f)
        case None:
            return "none"
        case _:
            return "other"


@program()
def match_class_patterns():
    class Point:
        __match_args__ = ("x", "y")

        def __init__(self, x, y):
            self.x, self.y = x, y

    def describe(p):
        match p:
            case Point(0, 0):
                return "origin"
            case Point(x, 0):
                return f"x-axis {x}"
            case Point(x=0, y=y):
                return f"y-axis {y}"
            case Point(x, y) if x == y:
                return "diagonal"
            case _:
                return "elsewhere"
    return [describe(Point(*xy)) for xy in [(0, 0), (3, 0), (0, 4), (2, 2), (1, 5)]]


@program()
def match_value_and_guard_constants():
    import enum

    class Color(enum.Enum):
        RED = 1
        BLUE = 2

    def check(c):
        match c:
            case Color.RED:
                return "red"
            case Color.BLUE:
                return "blue"
    return check(Color.RED), check(Color.BLUE), check(3)


@program()
def match_too_many_positional():
    class P:
        __match_args__ = ("a",)
        a = 1

    match P():
        case P(1, 2):
            return "no"


@program()
def early_return_in_loops():
    def find(xs, target):
        for i, x in enumerate(xs):
            for j in range(x):
                if j == target:
                    return i, j
        return None
    return find([1, 3, 5], 2), find([1], 9)


@program()
def while_with_complex_conditions():
    i, j, out = 0, 10, []
    while i < j and not (i == 3 or j == 3):
        out.append((i, j))
        i, j = i + 1, j - 2
    return out
