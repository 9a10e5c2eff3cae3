"""Python semantics: each program runs under CPython and under the interpreter; results (or
raised exceptions) must agree."""
import collections
import dataclasses
import functools
import itertools

import pytest

from strict_tracer.interpreter.standalone import run_python

GLOBAL_LIST = [1, 2, 3]
GLOBAL_COUNTER = 0


def closures(n):
    total = 0

    def add(k):
        nonlocal total
        total += k
        return total

    for i in range(n):
        add(i)
    return total, add(100)


def comprehensions(n):
    squares = [i * i for i in range(n) if i % 2]
    table = {i: str(i) for i in range(n)}
    pairs = {(a, b) for a in range(3) for b in "xy"}
    gen = sum(x for x in range(n))
    return squares, table, sorted(pairs), gen


def generators(n):
    def countdown(k):
        while k > 0:
            received = yield k
            k -= 1 if received is None else received
        return "done"

    def delegate():
        result = yield from countdown(n)
        yield result

    g = countdown(n)
    first = next(g)
    second = g.send(2)
    rest = list(g)
    return first, second, rest, list(delegate())


def exceptions(x):
    log = []
    try:
        try:
            log.append(1 / x)
        except ZeroDivisionError as exc:
            log.append(type(exc).__name__)
            raise ValueError("wrapped") from exc
        finally:
            log.append("finally")
    except ValueError as exc:
        log.append((str(exc), type(exc.__cause__).__name__))
    else:
        log.append("else")
    return log


def with_statements():
    log = []

    class Manager:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            log.append(("enter", self.name))
            return self.name.upper()

        def __exit__(self, typ, value, tb):
            log.append(("exit", self.name, typ.__name__ if typ else None))
            return typ is KeyError

    with Manager("a") as a, Manager("b") as b:
        log.append(a + b)
    with Manager("c"):
        raise KeyError("swallowed")
    return log


def classes_and_dunders():
    class Vec:
        __slots__ = ("x", "y")

        def __init__(self, x, y):
            self.x, self.y = x, y

        def __add__(self, other):
            return Vec(self.x + other.x, self.y + other.y)

        def __radd__(self, other):
            return Vec(self.x + other, self.y + other)

        def __eq__(self, other):
            return (self.x, self.y) == (other.x, other.y)

        def __len__(self):
            return 2

        def __iter__(self):
            yield self.x
            yield self.y

        @property
        def norm1(self):
            return abs(self.x) + abs(self.y)

        @classmethod
        def zero(cls):
            return cls(0, 0)

        @staticmethod
        def kind():
            return "vec"

    class Vec3(Vec):
        __slots__ = ("z",)

        def __init__(self, x, y, z):
            super().__init__(x, y)
            self.z = z

        def __iter__(self):
            yield from super().__iter__()
            yield self.z

    v = Vec(1, 2) + Vec(3, 4)
    w = 10 + v
    return (list(v), list(w), v == Vec(4, 6), len(v), v.norm1, list(Vec.zero()), Vec.kind(),
            list(Vec3(1, 2, 3)), isinstance(Vec3(1, 2, 3), Vec))


def dataclass_and_namedtuple():
    @dataclasses.dataclass
    class Config:
        width: int
        depth: int = 2
        tags: list = dataclasses.field(default_factory=list)

    Point = collections.namedtuple("Point", "x y")
    cfg = Config(4)
    cfg.tags.append("a")
    p = Point(1, y=2)
    return dataclasses.asdict(cfg), p.x + p.y, p._replace(x=5), repr(cfg)


def builtins_with_callbacks(words):
    return (sorted(words, key=len), list(map(str.upper, words)), list(filter(lambda w: "a" in w, words)),
            max(words, key=lambda w: w[-1]), functools.reduce(lambda a, b: a + b, words),
            list(itertools.accumulate([1, 2, 3])), dict(zip(words, range(10))),
            list(enumerate(reversed(words))))


def unpacking_and_strings(items):
    first, *middle, last = items
    a, (b, c) = 1, (2, 3)
    merged = {**{"a": 1}, **{"b": 2}}
    return first, middle, last, a + b + c, merged, f"{first!r:>6}|{last:03d}|{len(middle)}"


def pattern_matching(value):
    match value:
        case {"kind": "point", "x": x, "y": y}:
            return ("point", x + y)
        case [first, *rest]:
            return ("seq", first, len(rest))
        case int(n) if n > 10:
            return ("big", n)
        case str() as s:
            return ("str", s)
        case _:
            return ("other",)


def globals_and_mutation():
    global GLOBAL_COUNTER
    GLOBAL_COUNTER += 1
    GLOBAL_LIST.append(GLOBAL_COUNTER)
    return GLOBAL_COUNTER, list(GLOBAL_LIST)


def class_body_with_closure(k):
    class Local:
        factor = k * 2
        values = [k + i for i in range(3)]

        def scaled(self, v):
            return v * self.factor

    return Local.values, Local().scaled(3)


CASES = [
    (closures, (5,)), (comprehensions, (6,)), (generators, (6,)), (exceptions, (0,)),
    (exceptions, (2,)), (with_statements, ()), (classes_and_dunders, ()),
    (dataclass_and_namedtuple, ()), (builtins_with_callbacks, (["bb", "a", "ccc", "da"],)),
    (unpacking_and_strings, ([1, 2, 3, 4],)), (pattern_matching, ({"kind": "point", "x": 1, "y": 2},)),
    (pattern_matching, ([1, 2, 3],)), (pattern_matching, (42,)), (pattern_matching, ("hi",)),
    (pattern_matching, (3.5,)), (class_body_with_closure, (3,)),
]


@pytest.mark.parametrize("fn,args", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_matches_cpython(fn, args):
    assert run_python(fn, *args) == fn(*args)


def test_exceptions_match_cpython():
    def fails(d):
        return d["missing"]

    with pytest.raises(KeyError, match="missing"):
        run_python(fails, {})
    with pytest.raises(TypeError, match="takes 1 positional argument"):
        run_python(fails, {}, {})


def test_sandbox_restores_globals_and_containers():
    before_counter, before_list = GLOBAL_COUNTER, list(GLOBAL_LIST)
    result = run_python(globals_and_mutation)
    assert result == (before_counter + 1, before_list + [before_counter + 1])
    assert GLOBAL_COUNTER == before_counter
    assert GLOBAL_LIST == before_list
