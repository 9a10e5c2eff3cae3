"""Builtins with callbacks and dunders: polyfills must match the natives exactly."""
import functools

from corpus.support import program


class Box:
    """A value with Python-level ordering, equality, hashing, arithmetic and truth."""

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        return self.v < other.v

    def __eq__(self, other):
        return isinstance(other, Box) and self.v == other.v

    def __hash__(self):
        return hash(self.v)

    def __add__(self, other):
        return Box(self.v + (other.v if isinstance(other, Box) else other))

    __radd__ = __add__

    def __bool__(self):
        return self.v != 0

    def __repr__(self):
        return f"Box({self.v})"


@program((["pear", "fig", "apple", "kiwi"],))
def sorted_with_key_and_reverse(words):
    return (sorted(words), sorted(words, key=len), sorted(words, key=len, reverse=True),
            sorted(words, key=lambda w: (w[-1], w)), sorted(range(10), key=lambda i: i % 3))


@program()
def sorted_user_objects_and_stability():
    boxes = [Box(3), Box(1), Box(2), Box(1)]
    order = sorted(boxes)
    pairs = sorted([(1, "b"), (0, "z"), (1, "a")], key=lambda p: p[0])
    return [b.v for b in order], order[0] is boxes[1], pairs


@program()
def list_sort_in_place_with_key():
    data = [Box(5), Box(-1), Box(3)]
    data.sort(key=lambda b: -b.v)
    nums = [3, 1, 2]
    result = nums.sort(reverse=True)
    return [b.v for b in data], nums, result


@program()
def sorted_errors():
    try:
        sorted([1, "a"])
    except TypeError as exc:
        first = str(exc)
    try:
        sorted([Box(1), 2])
    except (TypeError, AttributeError) as exc:
        second = type(exc).__name__
    try:
        sorted([1, 2], key=lambda x: 1 / (x - 1))
    except ZeroDivisionError as exc:
        third = str(exc)
    return first, second, third


@program()
def min_max_forms():
    boxes = [Box(4), Box(9), Box(2), Box(9)]
    return (max(3, 7, 5), min([4, 1, 8]), max(boxes).v, max(boxes) is boxes[1], min(boxes).v,
            max("abc", key=ord), min([], default="empty"), max([(1, 2), (1, 3)]),
            max(range(5), key=lambda x: -x), min(boxes, key=lambda b: -b.v).v)


@program()
def min_max_errors():
    errors = []
    for call in (lambda: max([]), lambda: min(), lambda: max(1, 2, default=0),
                 lambda: max([1, "a"]), lambda: min(5)):
        try:
            call()
        except (TypeError, ValueError) as exc:
            errors.append((type(exc).__name__, str(exc)))
    return errors


@program()
def sum_forms():
    return (sum([1, 2, 3]), sum([0.5, 0.25], 1), sum([[1], [2]], []), sum(Box(i) for i in range(4)).v,
            sum([Box(1), Box(2)], Box(10)).v, sum(range(5), start=10), sum(x * x for x in range(5)))


@program()
def sum_of_strings_refused():
    return sum(["a", "b"], "")


@program()
def any_all_with_truth_dunders():
    boxes = [Box(0), Box(2)]
    calls = []

    def check(x):
        calls.append(x)
        return x > 1
    return (any(boxes), all(boxes), any(check(i) for i in range(5)), calls, all([]), any([]),
            all(b for b in [Box(1), Box(3)]))


@program()
def map_filter_zip_enumerate():
    def double(x):
        return 2 * x
    words = ["a", "bb", "ccc"]
    return (list(map(double, range(3))), list(map(lambda a, b: a + b, "ab", "xyz")),
            list(filter(None, [0, 1, "", "x", Box(0), Box(3)])), list(filter(lambda w: len(w) > 1, words)),
            list(zip(words, range(10), "pq")), list(enumerate(words, start=1)), dict(enumerate("xy")),
            list(map(str, [Box(1)])), list(zip(*[(1, 2), (3, 4)])))


@program()
def zip_strict_errors():
    return list(zip([1, 2], [1], strict=True))


@program()
def lazy_map_laziness():
    seen = []

    def f(x):
        seen.append(x)
        return x
    m = map(f, range(10))
    first_two = [next(m), next(m)]
    return first_two, seen, type(m).__name__


@program()
def reversed_and_iter_next():
    it = iter([1, 2, 3])
    first = next(it)
    return (list(reversed([1, 2, 3])), list(reversed(range(4))), list(reversed("abc")), first,
            next(it), next(it), next(it, "default"), list(reversed({"a": 1, "b": 2})))


@program()
def constructors_from_iterables():
    class Evens:
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

    def gen():
        yield "x"
        yield "y"
    return (list(Evens(7)), tuple(Evens(5)), sorted(set(Evens(9))), sorted(frozenset(Evens(3))),
            dict(zip("ab", Evens(4))), "-".join(gen()), list(gen()), dict([("k", 1)], z=2),
            bytes(range(3)), bytearray(b"ab"))


@program()
def dict_from_user_mapping():
    class Mapping:
        def keys(self):
            return ["x", "y"]

        def __getitem__(self, key):
            return key * 2
    d = dict(Mapping())
    d.update(Mapping(), extra=1)
    merged = {**Mapping()}
    return d, merged


@program()
def extend_update_join_with_generators():
    lst = [0]
    lst.extend(i for i in range(3))
    lst += (i * 10 for i in range(2))
    s = {1}
    s.update(x for x in "ab")
    s |= {9}
    text = ",".join(str(i) for i in range(3))
    return lst, sorted(s, key=str), text


@program()
def numeric_builtins_on_user_objects():
    class Num:
        def __init__(self, v):
            self.v = v

        def __abs__(self):
            return Num(abs(self.v))

        def __round__(self, n=None):
            return round(self.v, n)

        def __divmod__(self, other):
            return divmod(self.v, other)

        def __rdivmod__(self, other):
            return ("r", divmod(other, self.v))

        def __pow__(self, other):
            return self.v ** other

        def __rpow__(self, other):
            return other ** self.v

    n = Num(-7.25)
    return (abs(n).v, round(n), round(n, 1), divmod(n, 2), divmod(20, Num(3)), pow(Num(2), 5),
            2 ** Num(3), abs(-3), round(2.675, 2), divmod(-7, 2), pow(2, 10, 7))


@program()
def numeric_builtin_errors():
    class Nothing:
        pass
    errors = []
    for call in (lambda: abs(Nothing()), lambda: round(Nothing()), lambda: divmod(Nothing(), 1),
                 lambda: int(Nothing()), lambda: float(Nothing()), lambda: hex(Nothing())):
        try:
            call()
        except TypeError as exc:
            errors.append(str(exc))
    return errors


@program()
def isinstance_issubclass_forms():
    import collections.abc
    import numbers

    class Meta(type):
        def __instancecheck__(cls, obj):
            return obj == "magic"

    class Magic(metaclass=Meta):
        pass

    class Spoof:
        @property
        def __class__(self):
            return int

    return (isinstance(3, (str, int)), isinstance(3, int | str), isinstance([], collections.abc.Sequence),
            isinstance({}, collections.abc.Mapping), isinstance(3, numbers.Number),
            isinstance("magic", Magic), isinstance("other", Magic), isinstance(Spoof(), int),
            issubclass(bool, int), issubclass(list, collections.abc.Iterable), issubclass(int, (str, float)),
            isinstance(True, int))


@program()
def getattr_family_and_callable():
    class A:
        x = 1

        def m(self):
            return "m"
    a = A()
    setattr(a, "y", 2)
    return (getattr(a, "x"), getattr(a, "nope", None), hasattr(a, "y"), getattr(a, "m")(),
            callable(a.m), callable(A), callable(a), vars(a))


@program()
def functools_tools():
    calls = []

    @functools.lru_cache(maxsize=None)
    def square(x):
        calls.append(x)
        return x * x

    def power(base, exp):
        return base ** exp

    @functools.wraps(power)
    def wrapper(*args, **kwargs):
        return power(*args, **kwargs)

    cube = functools.partial(power, exp=3)
    return (square(3), square(3), functools.reduce(lambda a, b: a * b, [1, 2, 3, 4]),
            functools.reduce(lambda a, b: a + b, [], 0), cube(2), wrapper.__name__, wrapper(2, 5),
            functools.partial(max, 5)(3, 9), sorted([3, 1, 2], key=functools.cmp_to_key(lambda a, b: b - a)))


@program()
def functools_cached_property_and_total_ordering():
    @functools.total_ordering
    class Version:
        def __init__(self, major, minor):
            self.major, self.minor = major, minor

        def __eq__(self, other):
            return (self.major, self.minor) == (other.major, other.minor)

        def __lt__(self, other):
            return (self.major, self.minor) < (other.major, other.minor)

        @functools.cached_property
        def label(self):
            self.computed = getattr(self, "computed", 0) + 1
            return f"v{self.major}.{self.minor}"

    a, b = Version(1, 2), Version(1, 3)
    return (a <= b, a >= b, b > a, a.label, a.label, a.computed, max(a, b).label,
            [v.label for v in sorted([b, a])])


@program()
def operator_module():
    import operator
    rows = [{"n": 2, "s": "b"}, {"n": 1, "s": "a"}]
    return (operator.add(1, 2), operator.mul("ab", 2), operator.itemgetter("n")(rows[0]),
            sorted(rows, key=operator.itemgetter("n")), operator.attrgetter("real")(3 + 4j),
            operator.methodcaller("upper")("x"), operator.methodcaller("split", ",", maxsplit=1)("a,b,c"),
            operator.truth(Box(0)), operator.not_(Box(1)), operator.getitem([1, 2], 1),
            operator.contains([Box(1)], Box(1)), operator.neg(Box(2) + 1).v if False else operator.neg(5),
            operator.itemgetter(0, 2)("xyz"), operator.eq(Box(1), Box(1)), operator.index(7))


@program()
def itertools_tools():
    import itertools
    return (list(itertools.chain([1], (x for x in range(2)), "ab")), list(itertools.islice(itertools.count(5), 3)),
            list(itertools.accumulate([1, 2, 3])), list(itertools.accumulate([1, 2, 3], lambda a, b: a * b)),
            [k for k, _ in itertools.groupby("aabbbc")],
            [(k, list(g)) for k, g in itertools.groupby(range(6), key=lambda x: x // 2)],
            list(itertools.starmap(pow, [(2, 3), (3, 2)])), list(itertools.takewhile(lambda x: x < 3, range(10))),
            list(itertools.dropwhile(lambda x: x < 3, range(6))), list(itertools.filterfalse(lambda x: x % 2, range(6))),
            list(itertools.product("ab", repeat=2)), list(itertools.permutations([1, 2, 3], 2))[:3],
            list(itertools.combinations(range(4), 2)), list(itertools.zip_longest("ab", "xyz", fillvalue="-")),
            list(itertools.compress("abcd", [1, 0, Box(1), Box(0)])), list(itertools.pairwise([1, 2, 3])),
            list(itertools.chain.from_iterable([[1], (x for x in "ab")])),
            list(itertools.accumulate([Box(1), Box(2)]))[-1].v)


@program()
def collections_tools():
    import collections
    Point = collections.namedtuple("Point", ["x", "y"], defaults=[0])
    counts = collections.Counter("abracadabra")
    dd = collections.defaultdict(list)
    for w in ["ab", "ac", "b"]:
        dd[w[0]].append(w)
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    od.move_to_end("b")
    dq = collections.deque([1, 2, 3], maxlen=3)
    dq.append(4)
    dq.appendleft(0)
    p = Point(1)
    return (p, p._asdict(), p._replace(y=5), Point._fields, counts.most_common(2), counts["z"],
            dict(dd), list(od), list(dq), dq.maxlen, isinstance(p, tuple), p == (1, 0),
            collections.ChainMap({"a": 1}, {"a": 2, "b": 3})["b"])


@program()
def dataclasses_full():
    import dataclasses

    @dataclasses.dataclass(frozen=True, order=True)
    class P:
        x: int
        y: int = 0

    @dataclasses.dataclass
    class Holder:
        items: list = dataclasses.field(default_factory=list)
        name: str = "h"

        def __post_init__(self):
            self.name = self.name.upper()

    p = P(1, 2)
    try:
        p.x = 5
    except dataclasses.FrozenInstanceError:
        frozen = True
    h = Holder()
    h.items.append(p)
    return (repr(p), P(1) < P(2), hash(P(1, 2)) == hash(P(1, 2)), frozen, dataclasses.asdict(h),
            repr(dataclasses.replace(p, y=9)), [f.name for f in dataclasses.fields(P)],
            dataclasses.astuple(p), dataclasses.is_dataclass(h), repr(h), {P(1): "a"}[P(1)])


@program()
def enums_full():
    import enum

    class Color(enum.Enum):
        RED = 1
        GREEN = 2

    class Perm(enum.IntFlag):
        R = 4
        W = 2
        X = 1

    class Mode(str, enum.Enum):
        TRAIN = "train"
        EVAL = "eval"

    rw = Perm.R | Perm.W
    return (Color(1).name, Color["GREEN"].value, [c.name for c in Color], Color.RED in Color,
            Color.RED is Color(1), int(rw), Perm.W in rw, Mode("eval") == "eval", Mode.TRAIN.value,
            {Color.RED: "r"}[Color.RED], len(Color), str(Color.RED), repr(Mode.TRAIN))


@program()
def typing_annotations():
    import typing
    T = typing.TypeVar("T")

    class Stack(typing.Generic[T]):
        def __init__(self) -> None:
            self.items: list[T] = []

        def push(self, item: T) -> "Stack[T]":
            self.items.append(item)
            return self

    def f(x: int, y: typing.Optional[str] = None) -> dict[str, typing.Any]:
        return {"x": x, "y": y}

    Alias = typing.Union[int, str]
    s: Stack[int] = Stack[int]().push(1).push(2)
    return (s.items, f(1), f.__annotations__["x"] is int, typing.get_origin(dict[str, int]) is dict,
            typing.cast(int, "not checked"), Alias == typing.Union[str, int], isinstance(3, typing.Hashable))


@program()
def math_and_string_modules():
    import math
    import string
    return (math.sqrt(16), math.floor(2.7), math.ceil(2.1), math.prod([1, 2, 3, 4]), math.isclose(0.1 + 0.2, 0.3),
            math.gcd(12, 18), math.log2(8), math.pi > 3, string.ascii_lowercase[:3], math.inf > 1e308,
            math.fsum([0.1] * 10), math.comb(5, 2))


@program()
def copy_module():
    import copy
    original = {"a": [1, 2], "b": {"c": 3}}
    shallow = copy.copy(original)
    deep = copy.deepcopy(original)
    shallow["a"].append(3)
    deep["b"]["c"] = 99
    return original, shallow, deep


@program()
def library_fast_path_falls_back_to_interpretation():
    import collections.abc
    import enum
    import inspect

    class Settings(collections.abc.Mapping):
        def __init__(self):
            self.reads = []

        def __getitem__(self, key):
            self.reads.append(key)
            if key == "a":
                return 1
            raise KeyError(key)

        def __iter__(self):
            return iter(["a"])

        def __len__(self):
            return 1

    class Level(enum.Enum):
        LOW = 1
        HIGH = 2

        @classmethod
        def _missing_(cls, value):
            return cls.HIGH if value > 2 else None

    class WithSignature:
        @property
        def __signature__(self):
            return inspect.Signature([inspect.Parameter("magic", inspect.Parameter.POSITIONAL_ONLY)])

        def __call__(self, *args):
            return args

    s = Settings()
    return (s.get("a"), s.get("b", "dflt"), "a" in s, s.reads, Level(5).name, Level(1).name,
            str(inspect.signature(WithSignature())), list(inspect.signature(sorted).parameters))
