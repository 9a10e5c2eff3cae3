"""The attribute protocol and dunders of user classes."""
from corpus.support import program


class Counter:
    created = 0

    def __init__(self):
        Counter.created += 1


@program()
def class_attribute_mutation_is_undone():
    Counter()
    Counter()
    return Counter.created


@program()
def properties_with_setter_and_deleter():
    class Temp:
        def __init__(self):
            self._c = 0
            self.log = []

        @property
        def celsius(self):
            self.log.append("get")
            return self._c

        @celsius.setter
        def celsius(self, value):
            self.log.append(("set", value))
            self._c = value

        @celsius.deleter
        def celsius(self):
            self.log.append("del")
            self._c = None

        @property
        def fahrenheit(self):
            return self._c * 9 / 5 + 32

    t = Temp()
    t.celsius = 100
    f = t.fahrenheit
    c = t.celsius
    del t.celsius
    try:
        t.fahrenheit = 3
    except AttributeError as exc:
        err = str(exc)
    return t.log, f, c, t._c, err


@program()
def custom_descriptors():
    class Typed:
        def __set_name__(self, owner, name):
            self.name = "_" + name

        def __get__(self, obj, owner=None):
            if obj is None:
                return self
            return getattr(obj, self.name, "unset")

        def __set__(self, obj, value):
            if not isinstance(value, int):
                raise TypeError(f"{self.name[1:]} must be int")
            setattr(obj, self.name, value)

    class NonData:
        def __get__(self, obj, owner=None):
            return "from descriptor"

    class Record:
        x = Typed()
        y = NonData()

    r = Record()
    before = r.x
    r.x = 5
    try:
        r.x = "bad"
    except TypeError as exc:
        err = str(exc)
    r.__dict__["y"] = "instance wins"
    return before, r.x, err, r.y, type(Record.x).__name__, Record.y


@program()
def getattr_and_getattribute_overrides():
    class Lazy:
        def __init__(self):
            self.real = 1

        def __getattr__(self, name):
            if name.startswith("auto_"):
                return name[5:]
            raise AttributeError(f"no {name}")

    class Tracing:
        def __init__(self):
            object.__setattr__(self, "seen", [])

        def __getattribute__(self, name):
            seen = object.__getattribute__(self, "seen")
            seen.append(name)
            if name == "magic":
                return 42
            return object.__getattribute__(self, name)

    lazy = Lazy()
    t = Tracing()
    value = t.magic
    try:
        t.missing
    except AttributeError:
        pass
    return (lazy.real, lazy.auto_thing, hasattr(lazy, "nope"), getattr(lazy, "nope", "dflt"),
            value, t.seen)


@program()
def setattr_override_and_slots():
    class Frozen:
        __slots__ = ("a", "b")

        def __init__(self, a, b):
            object.__setattr__(self, "a", a)
            object.__setattr__(self, "b", b)

        def __setattr__(self, name, value):
            raise AttributeError(f"frozen: {name}")

    class Slotted:
        __slots__ = ("x",)

    f = Frozen(1, 2)
    try:
        f.a = 3
    except AttributeError as exc:
        err = str(exc)
    s = Slotted()
    try:
        s.y = 1
    except AttributeError as exc2:
        err2 = str(exc2)
    try:
        s.x
    except AttributeError as exc3:
        err3 = str(exc3)
    s.x = 9
    return f.a, err, err2, err3, s.x, hasattr(s, "__dict__")


@program()
def classmethods_staticmethods_and_inheritance():
    class Base:
        registry = []

        def __init__(self, v):
            self.v = v

        @classmethod
        def make(cls, v):
            return cls(v)

        @staticmethod
        def double(x):
            return 2 * x

        def describe(self):
            return f"{type(self).__name__}({self.v})"

    class Child(Base):
        def describe(self):
            return "child:" + super().describe()

        @classmethod
        def make(cls, v):
            obj = super().make(v + 1)
            return obj

    c = Child.make(1)
    return (c.describe(), Base.make(3).describe(), Child.double(4), c.double(5),
            isinstance(c, Base), issubclass(Child, Base), Child.__mro__[1].__name__,
            type(c).__name__, Child.__name__, Child.__qualname__.split(".")[-1])


@program()
def super_forms_and_mro():
    class A:
        def who(self):
            return ["A"]

    class B(A):
        def who(self):
            return ["B"] + super().who()

    class C(A):
        def who(self):
            return ["C"] + super().who()

    class D(B, C):
        def who(self):
            return ["D"] + super(D, self).who()

    d = D()
    return d.who(), [k.__name__ for k in D.__mro__], super(B, d).who()


@program()
def operator_dunders():
    class V:
        def __init__(self, *xs):
            self.xs = list(xs)

        def __add__(self, other):
            if isinstance(other, V):
                return V(*[a + b for a, b in zip(self.xs, other.xs)])
            if isinstance(other, (int, float)):
                return V(*[a + other for a in self.xs])
            return NotImplemented

        __radd__ = __add__

        def __mul__(self, k):
            return V(*[a * k for a in self.xs])

        def __rmul__(self, k):
            return self * k

        def __neg__(self):
            return V(*[-a for a in self.xs])

        def __matmul__(self, other):
            return sum(a * b for a, b in zip(self.xs, other.xs))

        def __eq__(self, other):
            return isinstance(other, V) and self.xs == other.xs

        def __lt__(self, other):
            return sum(self.xs) < sum(other.xs)

        def __iadd__(self, other):
            self.xs = [a + other for a in self.xs]
            return self

        def __abs__(self):
            return sum(abs(a) for a in self.xs)

        def __bool__(self):
            return any(self.xs)

        def __repr__(self):
            return f"V{tuple(self.xs)}"

    a, b = V(1, 2), V(3, 4)
    c = a
    c += 10
    return (repr(a + b), repr(1 + a), repr(2 * a), repr(-a), a @ b, a == V(11, 12), a != b,
            a < b, b > a, abs(V(-1, 2)), bool(V(0, 0)), c is a, repr(sum([a, b], V(0, 0))),
            sorted([b, a]) == [b, a] or sorted([b, a]) == [a, b])


@program()
def unsupported_operand_errors():
    class Plain:
        pass
    errors = []
    for op in (lambda: Plain() + 1, lambda: 1 - Plain(), lambda: Plain() < Plain(), lambda: -Plain(),
               lambda: [1] + Plain(), lambda: "a" * Plain(), lambda: Plain()[0], lambda: len(Plain()),
               lambda: iter(Plain()), lambda: Plain()()):
        try:
            op()
        except TypeError as exc:
            errors.append(str(exc))
    return errors


@program()
def reflected_operand_on_builtin_sequences():
    class Wrap:
        def __radd__(self, other):
            return ("radd", other)

        def __rmul__(self, other):
            return ("rmul", other)

    lst = [1]
    lst += Wrap()
    return [1] + Wrap(), "s" + Wrap(), (1,) + Wrap(), [2] * Wrap(), lst


@program()
def container_protocol():
    class Grid:
        def __init__(self, n):
            self.n = n
            self.cells = {}

        def __len__(self):
            return self.n * self.n

        def __getitem__(self, key):
            if isinstance(key, tuple):
                return self.cells.get(key, 0)
            if key >= self.n:
                raise IndexError(key)
            return [self[key, j] for j in range(self.n)]

        def __setitem__(self, key, value):
            self.cells[key] = value

        def __delitem__(self, key):
            del self.cells[key]

        def __contains__(self, value):
            return value in self.cells.values()

    g = Grid(2)
    g[0, 1] = 5
    g[1, 1] = 7
    del g[1, 1]
    rows = list(g)
    return len(g), g[0, 1], 5 in g, 7 in g, rows, bool(g), [r for r in reversed(rows)]


@program()
def old_style_sequence_iteration_and_reversed():
    class Seq:
        def __init__(self, items):
            self.items = items

        def __getitem__(self, i):
            return self.items[i] * 10

        def __len__(self):
            return len(self.items)

    s = Seq([1, 2, 3])
    return list(s), list(reversed(s)), 20 in s, tuple(s), sorted(s, reverse=True), max(s)


@program()
def callable_objects():
    class Adder:
        def __init__(self, k):
            self.k = k

        def __call__(self, x, *, twice=False):
            return (x + self.k) * (2 if twice else 1)

    add = Adder(3)
    return add(1), add(1, twice=True), list(map(add, [1, 2])), callable(add), callable(3)


@program()
def hash_eq_and_dict_keys():
    class Key:
        def __init__(self, name):
            self.name = name

        def __hash__(self):
            return hash(self.name)

        def __eq__(self, other):
            return isinstance(other, Key) and other.name == self.name

    k1, k2 = Key("a"), Key("a")
    return k1 == k2, hash(k1) == hash(k2), k1 is k2, [k1] == [k2], (k1,) == (k2,), k2 in [k1]


@program()
def eq_without_hash_is_unhashable():
    class E:
        def __eq__(self, other):
            return True
    return hash(E())


@program()
def format_str_repr_dunders():
    class Money:
        def __init__(self, cents):
            self.cents = cents

        def __str__(self):
            return f"${self.cents / 100:.2f}"

        def __repr__(self):
            return f"Money({self.cents})"

        def __format__(self, spec):
            if spec == "c":
                return f"{self.cents}c"
            return str(self)

    m = Money(1234)
    return str(m), repr(m), f"{m}", f"{m:c}", f"{m!r}", format(m, "c"), [m].__repr__() if False else repr([m]), "%s" % "x"


@program()
def index_and_numeric_conversions():
    class Idx:
        def __index__(self):
            return 2

        def __int__(self):
            return 7

        def __float__(self):
            return 1.5

    i = Idx()
    return [10, 20, 30][i], int(i), float(i), bin(i), hex(i), "abc"[i], list(range(i))


@program()
def class_decorators_and_init_subclass():
    registry = {}

    def register(cls):
        registry[cls.__name__] = cls
        return cls

    @register
    class Plugin:
        def run(self):
            return "ran"

    return sorted(registry), registry["Plugin"]().run()


@program()
def metaclass_call_and_class_getitem():
    class Meta(type):
        def __call__(cls, *args, **kwargs):
            obj = super().__call__(*args, **kwargs)
            obj.made_by_meta = True
            return obj

    class Thing(metaclass=Meta):
        def __init__(self, v):
            self.v = v

        def __class_getitem__(cls, item):
            return f"{cls.__name__}[{item}]"

    t = Thing(3)
    return t.v, t.made_by_meta, Thing[int], type(Thing).__name__


@program()
def dynamic_attributes_and_vars():
    class Bag:
        pass

    b = Bag()
    setattr(b, "x", 1)
    b.y = 2
    delattr(b, "x")
    return vars(b), hasattr(b, "x"), getattr(b, "y"), sorted(k for k in dir(b) if not k.startswith("_"))


@program()
def instance_method_binding():
    class K:
        def m(self):
            return self

    k = K()
    bound = k.m
    unbound = K.m
    return bound() is k, unbound(k) is k, bound.__self__ is k, bound.__func__ is unbound


@program()
def attribute_error_messages():
    class A:
        __slots__ = ()
    errors = []
    for get in (lambda: A().missing, lambda: A.missing, lambda: (1).missing, lambda: None.x):
        try:
            get()
        except AttributeError as exc:
            errors.append(str(exc))
    return errors


@program()
def bool_len_protocol_errors():
    class BadBool:
        def __bool__(self):
            return 1

    class NegLen:
        def __len__(self):
            return -1
    errors = []
    for check in (lambda: bool(BadBool()), lambda: bool(NegLen()), lambda: len(NegLen())):
        try:
            check()
        except (TypeError, ValueError) as exc:
            errors.append((type(exc).__name__, str(exc)))
    return errors


@program()
def init_subclass_and_set_name_inside_function():
    log = []

    class Field:
        def __set_name__(self, owner, name):
            log.append(("set_name", owner.__name__, name))
            self.name = name

    class Plugin:
        registry = []

        def __init_subclass__(cls, tag="none", **kwargs):
            super().__init_subclass__(**kwargs)
            log.append(("init_subclass", cls.__name__, tag, cls.field.name))
            Plugin.registry.append(tag)

    class Audio(Plugin, tag="audio"):
        field = Field()

    class Video(Plugin):
        field = Field()

    return log, Plugin.registry, Audio.field.name, type(Video.field).__name__


@program()
def dynamic_type_creation():
    def method(self):
        return self.x * 2

    Dyn = type("Dyn", (object,), {"x": 21, "method": method})
    Sub = type("Sub", (Dyn,), {})
    return Dyn().method(), Sub().method(), Sub.__mro__[1].__name__, type(Sub) is type


@program()
def init_subclass_keyword_error():
    class Base:
        pass

    class Child(Base, unexpected=1):
        pass
