"""Math expressions as static trees with trainable parameters, evaluated with ``jax.numpy``.

An :class:`Expression` pairs a hashable expression *tree* (static structure: nested tuples of
operation names, species names, parameter names and constants) with a dict of parameter
arrays (pytree leaves, so ``jax.grad`` differentiates through them). It is how jumpax
represents general math: rate laws (:class:`ExpressionKinetics`), assignment rules and event
triggers and assignments (:class:`StateFunction`), and the math of every kinetics class
(:meth:`~jumpax.AbstractKinetics.rate_law`).

Trees are built from infix formulas by :func:`parse_expression` (its own parser: the text is
never evaluated as Python) and from SBML MathML by :func:`jumpax.load_sbml`. Nodes:

- ``("const", value)``: a float constant;
- ``("species", name)``: the amount (count) of a species, ``x[index[name]]``;
- ``("param", name)``: the parameter array ``parameters[name]``;
- ``("time",)``: the simulation time (only in SBML event triggers; an :class:`Expression`
  refuses it);
- ``(operation, *children)`` for the operations in :data:`OPERATIONS`.

Example:
    >>> law = ExpressionKinetics("k * P * (P - 1) / 2", k=0.001)
    >>> net = jx.ReactionNetwork([jx.Reaction("2 P -> P2", law)])
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gamma
from jaxtyping import Array, ArrayLike

from .._checks import as_float_array, is_concrete
from ._kinetics import AbstractKinetics, Reactants

if TYPE_CHECKING:
    from ._network import Side

Node = tuple
"""An expression tree node, e.g. ``("times", ("param", "k"), ("species", "X"))``."""

MAX_DEPTH = 200
"""The deepest expression tree accepted (nesting levels, after inlining functions)."""

MAX_NODES = 10_000
"""The largest expression tree accepted (nodes, after inlining functions)."""

_FOLDS: dict[str, tuple[Callable, float | bool | None]] = {
    "plus": (jnp.add, 0.0),
    "times": (jnp.multiply, 1.0),
    "and": (jnp.logical_and, True),
    "or": (jnp.logical_or, False),
    "xor": (jnp.logical_xor, False),
    "min": (jnp.minimum, None),
    "max": (jnp.maximum, None),
}
_UNARY: dict[str, Callable] = {
    "exp": jnp.exp,
    "factorial": lambda n: gamma(n + 1.0),
    "ln": jnp.log,
    "abs": jnp.abs,
    "floor": jnp.floor,
    "ceiling": jnp.ceil,
    "sin": jnp.sin,
    "cos": jnp.cos,
    "tan": jnp.tan,
    "sinh": jnp.sinh,
    "cosh": jnp.cosh,
    "tanh": jnp.tanh,
    "arcsin": jnp.arcsin,
    "arccos": jnp.arccos,
    "arctan": jnp.arctan,
    "sec": lambda x: 1.0 / jnp.cos(x),
    "csc": lambda x: 1.0 / jnp.sin(x),
    "cot": lambda x: 1.0 / jnp.tan(x),
    "sech": lambda x: 1.0 / jnp.cosh(x),
    "csch": lambda x: 1.0 / jnp.sinh(x),
    "coth": lambda x: 1.0 / jnp.tanh(x),
    "arcsec": lambda x: jnp.arccos(1.0 / x),
    "arccsc": lambda x: jnp.arcsin(1.0 / x),
    "arccot": lambda x: jnp.arctan(1.0 / x),
    "arcsinh": jnp.arcsinh,
    "arccosh": jnp.arccosh,
    "arctanh": jnp.arctanh,
    "arcsech": lambda x: jnp.arccosh(1.0 / x),
    "arccsch": lambda x: jnp.arcsinh(1.0 / x),
    "arccoth": lambda x: jnp.arctanh(1.0 / x),
    "not": jnp.logical_not,
}
_BINARY: dict[str, Callable] = {
    "divide": jnp.divide,
    "power": jnp.power,
    "log": lambda base, x: jnp.log(x) / jnp.log(base),
    "root": lambda degree, x: jnp.power(x, 1.0 / degree),
    "implies": lambda a, b: jnp.logical_or(jnp.logical_not(a), b),
    "quotient": lambda a, b: jnp.trunc(a / b),  # MathML: the quotient rounded towards 0
    "rem": jnp.fmod,  # MathML: the remainder, with the sign of the dividend
}
_RELATIONS: dict[str, Callable] = {
    "eq": jnp.equal,
    "neq": jnp.not_equal,
    "gt": jnp.greater,
    "geq": jnp.greater_equal,
    "lt": jnp.less,
    "leq": jnp.less_equal,
}

OPERATIONS = frozenset(
    {*_FOLDS, *_UNARY, *_BINARY, *_RELATIONS, "minus", "piecewise"}
)
"""The operation names an expression tree may use."""

BOOLEAN_OPERATIONS = frozenset({*_RELATIONS, "and", "or", "xor", "not", "implies"})
"""Operations whose value is a condition (usable as an event trigger)."""

FOLDS = frozenset(_FOLDS)
"""Operations that fold any number of arguments from the left: ``plus(a, b, c)`` is
``plus(plus(a, b), c)``, value for value."""


# --------------------------------------------------------------------------------- tree walks
def _children(node: Node) -> tuple[Node, ...]:
    return node[1:] if node[0] in OPERATIONS else ()


def _walk(tree: Node) -> Iterator[tuple[Node, int]]:
    """Yields every node with its depth (the root has depth 1), without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        stack.extend((child, depth + 1) for child in reversed(_children(node)))


def measure(tree: Node) -> tuple[int, int]:
    """``(depth, number of nodes)`` of a tree, computed without recursion."""
    depth = size = 0
    for _, level in _walk(tree):
        depth, size = max(depth, level), size + 1
    return depth, size


def names(tree: Node, kind: str) -> tuple[str, ...]:
    """The distinct names of ``"species"`` or ``"param"`` leaves, in order of appearance."""
    found: dict[str, None] = {}
    for node, _ in _walk(tree):
        if node[0] == kind:
            found.setdefault(node[1])
    return tuple(found)


def uses_time(tree: Node) -> bool:
    """Whether the tree reads the simulation time."""
    return any(node[0] == "time" for node, _ in _walk(tree))


def check_node(node: Node) -> None:
    """Raises ``ValueError`` for a malformed node (checked without looking at children)."""
    if not isinstance(node, tuple) or not node or not isinstance(node[0], str):
        raise ValueError(f"malformed expression node {node!r}")
    kind, args = node[0], node[1:]
    if kind == "const":
        if len(args) != 1 or not isinstance(args[0], float) or np.isnan(args[0]):
            raise ValueError(f"a constant node must hold one float that is not NaN, got {node!r}")
    elif kind in ("species", "param"):
        if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
            raise ValueError(f"a {kind} node must hold one name, got {node!r}")
    elif kind == "time":
        if args:
            raise ValueError(f"a time node has no arguments, got {node!r}")
    elif kind not in OPERATIONS:
        raise ValueError(f"unknown operation {kind!r}; known: {sorted(OPERATIONS)}")
    elif (
        (kind in _UNARY and len(args) != 1)
        or (kind in _BINARY and len(args) != 2)
        or (kind in _RELATIONS and len(args) < 2)
        or (kind == "minus" and len(args) not in (1, 2))
        or (kind in ("min", "max") and not args)
        or (kind == "piecewise" and not args)
    ):
        raise ValueError(f"operation {kind!r} cannot take {len(args)} arguments")


def check_tree(tree: Node, what: str = "the expression") -> None:
    """Checks a tree's structure and size.

    Raises:
        ValueError: naming ``what``, for unknown operations, wrong numbers of arguments,
            malformed leaves, or a tree deeper than :data:`MAX_DEPTH` or larger than
            :data:`MAX_NODES`.
    """
    size = 0
    for node, depth in _walk(tree):
        size += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"{what} is nested deeper than {MAX_DEPTH} levels")
        if size > MAX_NODES:
            raise ValueError(f"{what} has more than {MAX_NODES} nodes")
        try:
            check_node(node)
        except ValueError as error:
            raise ValueError(f"{what}: {error}") from None


# --------------------------------------------------------------------------------- evaluation
def _evaluate(node: Node, x: Array, index: Mapping[str, int], parameters: Mapping) -> Array:
    kind = node[0]
    if kind == "const":
        return jnp.asarray(node[1])
    if kind == "species":
        return x[index[node[1]]]
    if kind == "param":
        return parameters[node[1]]
    values = [_evaluate(child, x, index, parameters) for child in node[1:]]
    if kind in _FOLDS:
        fold, empty = _FOLDS[kind]
        return functools.reduce(fold, values) if values else jnp.asarray(empty)
    if kind in _UNARY:
        return _UNARY[kind](values[0])
    if kind in _BINARY:
        return _BINARY[kind](*values)
    if kind in _RELATIONS:
        relation = _RELATIONS[kind]
        pairs = [relation(a, b) for a, b in zip(values, values[1:], strict=False)]
        return functools.reduce(jnp.logical_and, pairs)
    if kind == "minus":
        return -values[0] if len(values) == 1 else values[0] - values[1]
    # piecewise: value, condition pairs, then an optional "otherwise" (undefined: NaN)
    result = jnp.asarray(values[-1] if len(values) % 2 else jnp.nan)
    for value, condition in reversed(list(zip(values[0::2], values[1::2], strict=False))):
        result = jnp.where(condition, value, result)
    return result


def _check_parameter(name: str, value: ArrayLike) -> Array:
    array = as_float_array(value)
    if array.ndim:
        raise ValueError(f"parameter {name!r} must be a scalar, got shape {array.shape}")
    if is_concrete(array) and not np.isfinite(np.asarray(array)):
        raise ValueError(f"parameter {name!r} must be finite, got {np.asarray(array)}")
    return array


class Expression(eqx.Module):
    """A math expression of species amounts, parameters and constants.

    Example:
        >>> e = Expression(("times", ("param", "k"), ("species", "X")), {"k": 0.1})
        >>> e.evaluate(jnp.array([30.0]), {"X": 0})
        Array(3., dtype=float32)

    Attributes:
        tree: the expression tree (static; see the module docstring for the node types).
        parameters: ``{name: scalar array}`` for every ``("param", name)`` leaf; trainable.
    """

    tree: Node = eqx.field(static=True)
    parameters: dict[str, Array]

    def __init__(self, tree: Node, parameters: Mapping[str, ArrayLike] | None = None):
        """Checks the tree and attaches the parameter values.

        Args:
            tree: the expression tree.
            parameters: a value for each parameter the tree reads (and no others).

        Raises:
            ValueError: for a malformed or oversized tree, a tree that reads the time, or
                missing, unused or non-finite parameters.
        """
        check_tree(tree)
        if uses_time(tree):
            raise ValueError(
                "expressions cannot depend on time: jumpax propensities, rules and event "
                "assignments are functions of the state only"
            )
        parameters = dict(parameters or {})
        used = names(tree, "param")
        missing = [name for name in used if name not in parameters]
        if missing:
            raise ValueError(f"the expression reads parameters {missing} that have no value")
        unused = sorted(set(parameters) - set(used))
        if unused:
            raise ValueError(f"parameters {unused} are not used by the expression")
        self.tree = tree
        self.parameters = {name: _check_parameter(name, parameters[name]) for name in used}

    @property
    def species(self) -> tuple[str, ...]:
        """The species the expression reads, in order of appearance."""
        return names(self.tree, "species")

    @property
    def is_condition(self) -> bool:
        """Whether the expression is a condition (a relation or a logical operation)."""
        return self.tree[0] in BOOLEAN_OPERATIONS

    def evaluate(self, x: Array, index: Mapping[str, int]) -> Array:
        """The expression's value in state ``x``.

        Args:
            x: species amounts, shape ``(n_species,)``.
            index: maps species names to positions in ``x``.

        Returns:
            A scalar array (boolean for conditions).
        """
        return _evaluate(self.tree, x, index, self.parameters)

    def __str__(self) -> str:
        """The expression as an infix formula, in the syntax of :func:`parse_expression`."""
        return _formatted(self.tree)[0]


@functools.lru_cache(maxsize=4096)
def _template(tree: Node) -> tuple[Node, tuple[str, ...], tuple[float | str, ...]]:
    """The tree's shape, with its species and its values (parameters, constants) as slots.

    Returns:
        ``(shape, species, values)``: the tree with the ``k``-th species leaf read as
        ``("species", "s<k>")`` and the ``k``-th parameter or constant as ``("param", "v<k>")``;
        the species names; and, per value slot, a parameter name or a constant. Two
        expressions with one shape differ only in what they read, so they evaluate together.
    """
    species: list[str] = []
    values: list[float | str] = []

    def visit(node: Node) -> Node:
        kind = node[0]
        if kind == "species":
            species.append(node[1])
            return ("species", f"s{len(species) - 1}")
        if kind == "param" or (kind == "const" and not isinstance(node[1], bool)):
            values.append(node[1] if kind == "param" else float(node[1]))
            return ("param", f"v{len(values) - 1}")
        if kind == "const":
            return node
        return (kind, *(visit(child) for child in node[1:]))

    return visit(tree), tuple(species), tuple(values)


def compared_differences(expression: Expression) -> tuple[tuple[Expression, Expression], ...]:
    """``(a - b, |a| + |b|)`` for every order comparison (``a < b``, ``a >= b``, ...) in it.

    A condition built from comparisons can only change where one of the differences changes
    sign: the continuous models watch them to find every change, even one that lasts less
    than a step; the magnitude tells a difference at rounding level from a real one. Chained
    comparisons (``a < b < c``) give one pair per neighbouring two.
    """
    pairs = []
    for node, _ in _walk(expression.tree):
        if node[0] in ("lt", "leq", "gt", "geq"):
            for a, b in zip(node[1:-1], node[2:], strict=True):
                trees = (("minus", a, b), ("plus", ("abs", a), ("abs", b)))
                pairs.append(tuple(
                    Expression(tree, {p: expression.parameters[p] for p in names(tree, "param")})
                    for tree in trees
                ))
    return tuple(pairs)


def _shape_groups(expressions: list[Expression]) -> list[tuple[Node, list[int], list[tuple]]]:
    """The expressions grouped by shape: ``(shape, members, their templates)`` per group."""
    groups: dict[Node, list[int]] = {}
    templates = [_template(expression.tree) for expression in expressions]
    for i, template in enumerate(templates):
        groups.setdefault(template[0], []).append(i)
    return [(shape, members, [templates[i] for i in members]) for shape, members in groups.items()]


def stacked_values(expressions: list[Expression], dtype) -> tuple[dict[str, Array], ...]:
    """The values the expressions read, stacked per shape, as :func:`evaluate_together` reads them.

    Args:
        expressions: the expressions.
        dtype: the values' dtype.

    Returns:
        Per shape group (in :func:`evaluate_together`'s order), ``{"v<k>": (members,) values}``.
    """
    return _stacked(expressions, _shape_groups(expressions), dtype)


def _stacked(
    expressions: list[Expression], groups: list[tuple[Node, list[int], list[tuple]]], dtype
) -> tuple[dict[str, Array], ...]:
    """:func:`stacked_values` for the expressions' shape groups (:func:`_shape_groups`)."""
    stacks = []
    for _, members, templates in groups:
        slots = {}
        for k in range(len(templates[0][2])):
            slot = [t[2][k] for t in templates]
            if any(isinstance(value, str) for value in slot):  # parameters (possibly traced)
                slots[f"v{k}"] = jnp.stack([
                    jnp.asarray(
                        expressions[i].parameters[value] if isinstance(value, str) else value,
                        dtype=dtype,
                    )
                    for i, value in zip(members, slot, strict=True)
                ])
            else:  # constants: one array known when compiling
                slots[f"v{k}"] = jnp.asarray(np.array(slot), dtype=dtype)
        stacks.append(slots)
    return tuple(stacks)


def evaluate_together(
    expressions: list[Expression],
    x: Array,
    index: Mapping[str, int],
    values: tuple[dict[str, Array], ...] | None = None,
) -> Array:
    """The values of many expressions in state ``x``, one vectorised evaluation per shape.

    Expressions that differ only in the species and values they read (see :func:`_template`)
    are evaluated as one expression over gathered species and stacked values, so the
    compiled program grows with the number of distinct shapes, not of expressions. Each value
    is the one :meth:`Expression.evaluate` gives, computed by the same operations.

    Args:
        expressions: the expressions.
        x: species amounts, shape ``(n_species,)``.
        index: maps species names to positions in ``x``.
        values: the values they read, stacked by :func:`stacked_values` (computed here when
            ``None``): stacked once outside a loop, the loop reads a few arrays rather than
            every expression's parameters.

    Returns:
        ``(len(expressions),)`` values, in order.
    """
    groups = _shape_groups(expressions)
    if values is None:
        values = _stacked(expressions, groups, x.dtype)
    results = jnp.zeros(len(expressions), x.dtype)
    for (shape, members, templates), slots_v in zip(groups, values, strict=True):
        slots_x = {
            f"s{k}": np.array([index[t[1][k]] for t in templates], dtype=np.int32)
            for k in range(len(templates[0][1]))
        }
        slots_v = {name: value.astype(x.dtype) for name, value in slots_v.items()}
        values_now = jnp.broadcast_to(_evaluate(shape, x, slots_x, slots_v), (len(members),))
        results = results.at[np.array(members)].set(values_now.astype(x.dtype))
    return results


# --------------------------------------------------------------------------------- formulas
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<symbol>&&|\|\||==|!=|<=|>=|[-+*/^!<>(),]))"
)
_INFIX: dict[str, tuple[str, int]] = {
    "||": ("or", 1),
    "&&": ("and", 1),
    "==": ("eq", 2),
    "!=": ("neq", 2),
    "<": ("lt", 2),
    ">": ("gt", 2),
    "<=": ("leq", 2),
    ">=": ("geq", 2),
    "+": ("plus", 3),
    "-": ("minus", 3),
    "*": ("times", 4),
    "/": ("divide", 4),
    "^": ("power", 6),
}
"""Infix operators: their operation and precedence (``^`` binds right, the others left)."""

_PREFIX: dict[str, str | None] = {"-": "minus", "!": "not", "+": None}
_PREFIX_PRECEDENCE = 5
_ATOM_PRECEDENCE = 7
_SYMBOLS = {operation: f" {symbol} " for symbol, (operation, _) in _INFIX.items() if symbol != "^"}
_PRECEDENCE = {operation: precedence for operation, precedence in _INFIX.values()}

_CONSTANTS: dict[str, float] = {
    "pi": float(np.pi),
    "exponentiale": float(np.e),
    "true": 1.0,
    "false": 0.0,
    "avogadro": 6.02214179e23,
    "inf": float("inf"),
    "infinity": float("inf"),
}
_FUNCTIONS: dict[str, str] = {
    **{name: name for name in OPERATIONS},
    "pow": "power",
    "ceil": "ceiling",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
}
_IMPLIED_FIRST: dict[str, tuple[str, float]] = {
    "sqrt": ("root", 2.0),
    "log10": ("log", 10.0),
    "log": ("log", 10.0),
}
"""One-argument functions that are an operation with a fixed first argument (``log(x)`` is
``log10(x)``; ``log(b, x)`` is the logarithm to base ``b``)."""

_UNSUPPORTED = frozenset({"delay", "rateof", "lambda"})


class _FormulaParser:
    """Turns an infix formula into a tree by operator precedence, with explicit stacks.

    No recursion, so deeply nested formulas cannot exhaust the Python stack; the tree's depth
    and size are checked afterwards by :class:`Expression`.
    """

    def __init__(self, formula: str, parameters: Mapping[str, object]):
        self.formula = formula
        self.parameters = parameters
        # operands, with the last comparand of an unparenthesised comparison chain (or None)
        self.operands: list[tuple[Node, Node | None]] = []
        # ("infix", symbol) | ("prefix", symbol) | ("paren",) | ("call", name, first operand)
        self.operators: list[tuple] = []

    def fail(self, problem: str, position: int | None = None) -> ValueError:
        if position is None:
            return ValueError(f"formula {self.formula!r}: {problem}")
        return ValueError(
            f"cannot parse formula {self.formula!r}: {problem} at position {position}"
        )

    def tokens(self) -> list[tuple[str, str, int]]:
        """``(kind, text, position)`` for each token, ending with ``("end", "", length)``."""
        found, position, text = [], 0, self.formula
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                rest = text[position:].lstrip()
                if not rest:
                    break
                offset = len(text) - len(rest)
                raise self.fail(f"unexpected character {text[offset]!r}", offset)
            kind = match.lastgroup
            found.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        if sum(kind != "symbol" for kind, _, _ in found) > MAX_NODES:
            raise self.fail(f"more than {MAX_NODES} numbers and names")
        return [*found, ("end", "", len(text))]

    def parse(self) -> Node:
        tokens = self.tokens()
        expect_operand = True
        i = 0
        while True:
            kind, text, position = tokens[i]
            if expect_operand:
                if kind == "number":
                    self.operands.append((("const", float(text)), None))
                    expect_operand = False
                elif kind == "name" and tokens[i + 1][1] == "(":
                    self.operators.append(("call", self.function(text), len(self.operands)))
                    i += 1
                    if tokens[i + 1][1] == ")":  # no arguments
                        self.close_call()
                        i += 1
                        expect_operand = False
                elif kind == "name":
                    self.operands.append((self.identifier(text), None))
                    expect_operand = False
                elif text == "(":
                    self.operators.append(("paren",))
                elif text in _PREFIX:
                    self.operators.append(("prefix", text))
                else:
                    raise self.fail(self.unexpected(kind, text), position)
            elif text in _INFIX:
                precedence = _INFIX[text][1]
                while self.operators and self.operators[-1][0] in ("infix", "prefix"):
                    top = self.precedence(self.operators[-1])
                    if top < precedence or (top == precedence and text == "^"):
                        break
                    self.reduce()
                self.operators.append(("infix", text))
                expect_operand = True
            elif text in (")", ",", ""):
                while self.operators and self.operators[-1][0] in ("infix", "prefix"):
                    self.reduce()
                if kind == "end":
                    if self.operators:
                        raise self.fail("missing ')'", position)
                    (tree, _), = self.operands
                    return tree
                if not self.operators or (text == "," and self.operators[-1][0] != "call"):
                    raise self.fail(f"unexpected {text!r}", position)
                if text == ",":
                    expect_operand = True
                elif self.operators[-1][0] == "paren":
                    self.operators.pop()
                    self.operands[-1] = (self.operands[-1][0], None)
                else:
                    self.close_call()
            else:
                raise self.fail(self.unexpected(kind, text), position)
            i += 1

    @staticmethod
    def unexpected(kind: str, text: str) -> str:
        return "unexpected end of formula" if kind == "end" else f"unexpected {kind} {text!r}"

    @staticmethod
    def precedence(operator: tuple) -> int:
        return _PREFIX_PRECEDENCE if operator[0] == "prefix" else _INFIX[operator[1]][1]

    def identifier(self, name: str) -> Node:
        key = name.lower()
        if key in _CONSTANTS:
            return ("const", _CONSTANTS[key])
        if key == "time":
            raise self.fail(
                "the formula uses time; jumpax rate laws, rules and event assignments must "
                "depend on the state only"
            )
        if key in ("nan", "notanumber"):
            raise self.fail("NaN constants are not supported")
        return ("param", name) if name in self.parameters else ("species", name)

    def function(self, name: str) -> str:
        """The lower-case name of a known function; refuses the others."""
        key = name.lower()
        if key in _UNSUPPORTED:
            raise self.fail(f"the function {name!r} is not supported")
        if key not in _FUNCTIONS and key not in _IMPLIED_FIRST:
            raise self.fail(f"undefined function {name!r}")
        return key

    def close_call(self) -> None:
        _, name, first = self.operators.pop()
        arguments = [node for node, _ in self.operands[first:]]
        del self.operands[first:]
        if name in _IMPLIED_FIRST and not (name == "log" and len(arguments) == 2):
            if len(arguments) != 1:
                raise self.fail(f"the function {name!r} takes 1 argument, got {len(arguments)}")
            operation, value = _IMPLIED_FIRST[name]
            node = (operation, ("const", value), *arguments)
        else:
            node = (_FUNCTIONS[name], *arguments)
        try:
            check_node(node)
        except ValueError as error:
            raise self.fail(str(error)) from None
        self.operands.append((node, None))

    def reduce(self) -> None:
        kind, symbol = self.operators.pop()
        if kind == "prefix":
            node, _ = self.operands.pop()
            operation = _PREFIX[symbol]
            self.operands.append((node if operation is None else (operation, node), None))
            return
        right, _ = self.operands.pop()
        left, tail = self.operands.pop()
        operation = _INFIX[symbol][0]
        if operation in _RELATIONS:
            self.operands.append((self.compare(operation, left, tail, right), right))
        elif operation in ("plus", "times", "and", "or") and left[0] == operation:
            self.operands.append((left + (right,), None))  # A + B + C is plus(A, B, C)
        else:
            self.operands.append(((operation, left, right), None))

    @staticmethod
    def compare(operation: str, left: Node, tail: Node | None, right: Node) -> Node:
        """Chains comparisons: ``A < B < C`` is ``lt(A, B, C)``, ``A < B <= C`` is ``and``.

        ``A < B <= C`` becomes ``(A < B) && (B <= C)``; ``tail`` is the last comparand of the
        unparenthesised chain that ``left`` ends (``None`` if it is none).
        """
        if tail is None:
            return (operation, left, right)
        if left[0] == operation:
            return left + (right,)
        if left[0] == "and" and left[-1][0] == operation:
            return left[:-1] + (left[-1] + (right,),)
        term = (operation, tail, right)
        return left + (term,) if left[0] == "and" else ("and", left, term)


def parse_expression(formula: str, **parameters: ArrayLike) -> Expression:
    """Parses an infix formula into an :class:`Expression`.

    The syntax is that of SBML Level 3 infix formulas: ``+ - * /``, ``^`` (power, binding
    right and tighter than a leading ``-``), comparisons ``== != < > <= >=`` (a chain such as
    ``A < B <= C`` means ``A < B && B <= C``), ``&&``, ``||`` and ``!``, the functions of
    :data:`OPERATIONS` (``exp(X)``, ``min(A, B, 3)``, ``piecewise(value, condition, ...,
    otherwise)``, ...) and ``pow``, ``sqrt``, ``log10``, ``log(x)`` (base 10), ``log(b, x)``,
    ``ceil``, ``asin``, ``acos``, ``atan``, and the constants ``pi``, ``exponentiale``,
    ``true``, ``false``, ``avogadro`` and ``INF``. Function and constant names ignore case.
    Identifiers given as keyword arguments are parameters; all others are species. The text
    is parsed, never evaluated as Python.

    Example:
        >>> parse_expression("vmax * S / (Km + S)", vmax=10.0, Km=5.0).species
        ('S',)

    Args:
        formula: e.g. ``"k * X * (X - 1) / 2"``.
        **parameters: parameter values by name.

    Raises:
        ValueError: for a syntax error (with its position), unknown or unsupported functions
            (``delay``, ``rateOf``, ...), wrong numbers of arguments, a formula that reads
            the time, a tree over the size limits, or unused parameters.
    """
    if not isinstance(formula, str):
        raise TypeError(f"a formula must be a string, got {formula!r}")
    return Expression(_FormulaParser(formula, parameters).parse(), parameters)


def _number(value: float) -> str:
    if np.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _formatted(node: Node) -> tuple[str, int]:
    """``node`` as an infix formula, with the precedence of its outermost operation."""
    kind, arguments = node[0], node[1:]
    if kind == "const":
        text = _number(node[1])
        return text, _PREFIX_PRECEDENCE if text.startswith("-") else _ATOM_PRECEDENCE
    if kind in ("species", "param"):
        return node[1], _ATOM_PRECEDENCE
    if kind == "time":
        return "time", _ATOM_PRECEDENCE
    parts = [_formatted(child) for child in arguments]
    if kind in ("minus", "not") and len(parts) == 1:
        text, inner = parts[0]
        text = text if inner >= _PREFIX_PRECEDENCE else f"({text})"
        return ("-" if kind == "minus" else "!") + text, _PREFIX_PRECEDENCE
    if kind == "power":
        (base, inner_base), (exponent, inner_exponent) = parts
        base = base if inner_base == _ATOM_PRECEDENCE else f"({base})"
        exponent = exponent if inner_exponent >= _PREFIX_PRECEDENCE else f"({exponent})"
        return f"{base}^{exponent}", _PRECEDENCE["power"]
    if kind in _SYMBOLS and len(parts) >= 2:
        precedence = _PRECEDENCE[kind]
        chained = precedence <= _PRECEDENCE["eq"]  # nested logic and comparisons get brackets
        texts = [
            text
            if inner > precedence or (inner == precedence and i == 0 and not chained)
            else f"({text})"
            for i, (text, inner) in enumerate(parts)
        ]
        return _SYMBOLS[kind].join(texts), precedence
    return f"{kind}({', '.join(text for text, _ in parts)})", _ATOM_PRECEDENCE


# --------------------------------------------------------------------------------- modules
class StateFunction(eqx.Module):
    """An expression evaluated on a state vector with a fixed species order.

    This is the callable ``f(x)`` that :class:`~jumpax.AssignmentRule`,
    :class:`~jumpax.TimeEvent` and :class:`~jumpax.StateEvent` expect; its parameters stay
    trainable and :func:`jumpax.to_sbml` can write it as MathML.

    Attributes:
        expression: the expression.
        species: the species order of the state vectors it is applied to (static).
    """

    expression: Expression
    species: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, expression: Expression, species: tuple[str, ...]):
        """Binds an expression to a species order.

        Raises:
            ValueError: if the expression reads a species not in ``species``.
        """
        self.species = tuple(species)
        unknown = [s for s in expression.species if s not in self.species]
        if unknown:
            raise ValueError(f"the expression {expression} reads unknown species {unknown}")
        self.expression = expression

    def __call__(self, x: Array) -> Array:
        """The expression's value in state ``x`` (species in :attr:`species` order)."""
        return self.expression.evaluate(x, {name: i for i, name in enumerate(self.species)})


class ExpressionKinetics(AbstractKinetics):
    """A general rate law: the propensity is an expression of the species amounts.

    The expression's value is the propensity in events per unit time, evaluated on molecule
    counts "as written" (the DSMTS convention for SBML kinetic laws); ``volume`` is not
    applied, and the deterministic (ODE) limit is the same value. The network sets the
    propensity to 0 while the reaction's reactants are not available. A negative, infinite
    or NaN propensity while they are available means the rate law is wrong for the model: the
    simulation stops with a ``RuntimeError`` (raised by :func:`equinox.error_if`, which also
    works under ``jit``; the ``EQX_ON_ERROR`` environment variable can change this) instead of
    continuing with a silently wrong path. :meth:`ode_rate` does not check: a deterministic
    rate may be negative (and continuous states may round to slightly negative amounts).

    Example:
        >>> ExpressionKinetics("k1 * (100 - 2 * P2) * (99 - 2 * P2) / 2", k1=0.001)

    Attributes:
        expression: the rate law; its parameters are trainable.
    """

    expression: Expression

    def __init__(self, expression: Expression | str, **parameters: ArrayLike):
        """Creates the kinetics from an :class:`Expression` or an infix formula.

        Args:
            expression: an expression, or a formula parsed by :func:`parse_expression`.
            **parameters: parameter values, only with a formula.

        Raises:
            ValueError: for a formula that cannot be parsed, or parameters given with an
                :class:`Expression`.
        """
        if isinstance(expression, str):
            expression = parse_expression(expression, **parameters)
        elif parameters:
            raise ValueError("parameters are given with a formula, not with an Expression")
        if not isinstance(expression, Expression):
            raise TypeError(f"expected an Expression or a formula, got {expression!r}")
        self.expression = expression

    @property
    def species_refs(self) -> tuple[str, ...]:
        """The species the rate law reads."""
        return self.expression.species

    @property
    def parameters(self) -> dict[str, Array]:
        """The expression's parameters."""
        return self.expression.parameters

    def rate_law(self, reactants: Side, volume: Node) -> Node:
        """The expression's tree."""
        return self.expression.tree

    def ode_rate(self, x: Array, reactants: Reactants, index: Mapping[str, int], volume: Array):
        """The expression's value, unchecked."""
        return general_rates([self], x, index)[0]

    def propensity(self, x: Array, reactants: Reactants, index: Mapping[str, int], volume: Array):
        """The expression's value; an error if it is negative or not finite while it counts."""
        available = jnp.all(x[None, :] >= _coefficients(reactants, x), axis=1)
        return general_rates([self], x, index, available=available)[0]


def _coefficients(reactants: Reactants, x: Array) -> np.ndarray:
    """``(1, n_species)`` reactant coefficients from ``(species index, coefficient)`` pairs."""
    row = np.zeros((1, x.shape[0]))
    for i, s in reactants:
        row[0, i] += s
    return row


def general_rates(
    laws: list[ExpressionKinetics],
    x: Array,
    index: Mapping[str, int],
    *,
    available: Array | None = None,
    values: tuple[dict[str, Array], ...] | None = None,
) -> Array:
    """The rates of many general rate laws, evaluated together (see :func:`evaluate_together`).

    Args:
        laws: the rate laws.
        x: species amounts, shape ``(n_species,)``.
        index: maps species names to positions in ``x``.
        available: ``None`` for ODE rates, unchecked; else propensities, checked with
            ``(len(laws),)`` flags of whose reactants are available: a negative, infinite or
            NaN value of an available reaction raises (:func:`equinox.branched_error_if`,
            naming the law).
        values: the laws' values stacked by :func:`stacked_values`, or ``None``.

    Returns:
        ``(len(laws),)`` rates, in the dtype of ``x``.
    """
    expressions = [law.expression for law in laws]
    rates = evaluate_together(expressions, x, index, values).astype(x.dtype)
    if available is None:
        return rates
    invalid = available & ~((rates >= 0) & jnp.isfinite(rates))
    return eqx.branched_error_if(
        rates,
        jnp.any(invalid),
        jnp.argmax(invalid),
        [f"the rate law {law.expression} gave a negative or non-finite propensity" for law in laws],
    )
