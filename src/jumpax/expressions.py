"""Math expressions as static trees with trainable parameters, evaluated with ``jax.numpy``.

An :class:`Expression` pairs a hashable expression *tree* (static structure: nested tuples of
operation names, species names, parameter names and constants) with a dict of parameter
arrays (pytree leaves, so ``jax.grad`` differentiates through them). It is how jumpax
represents SBML math: rate laws (:class:`ExpressionKinetics`), assignment rules and event
triggers and assignments (:class:`StateFunction`).

Trees are built from libsbml ASTs (:func:`from_ast`, used by :func:`jumpax.load_sbml`) or from
infix formulas (:func:`parse`, which uses libsbml's formula parser); text is never evaluated
as Python. Nodes:

- ``("const", value)``: a float constant;
- ``("species", name)``: the amount (count) of a species, ``x[index[name]]``;
- ``("param", name)``: the parameter array ``parameters[name]``;
- ``("time",)``: the simulation time (only produced by :func:`from_ast` with
  ``allow_time=True``, for event triggers; an :class:`Expression` refuses it);
- ``(operation, *children)`` for the operations in :data:`OPERATIONS`.

Example:
    >>> law = ExpressionKinetics("k * P * (P - 1) / 2", k=0.001)
    >>> net = jx.ReactionNetwork([jx.Reaction("2 P -> P2", law)])
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping

import equinox as eqx
import jax.numpy as jnp
import libsbml
import numpy as np
from jaxtyping import Array, ArrayLike

from ._checks import as_float_array, is_concrete
from .kinetics import AbstractKinetics, Reactants

Node = tuple
"""An expression tree node, e.g. ``("times", ("param", "k"), ("species", "X"))``."""

Resolver = Callable[[str], Node | None]
"""Maps an identifier in math to the tree it stands for, or ``None`` if it is undefined."""

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
    "not": jnp.logical_not,
}
_BINARY: dict[str, Callable] = {
    "divide": jnp.divide,
    "power": jnp.power,
    "log": lambda base, x: jnp.log(x) / jnp.log(base),
    "root": lambda degree, x: jnp.power(x, 1.0 / degree),
    "implies": lambda a, b: jnp.logical_or(jnp.logical_not(a), b),
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

_AST_OPERATIONS: dict[int, str] = {
    libsbml.AST_PLUS: "plus",
    libsbml.AST_MINUS: "minus",
    libsbml.AST_TIMES: "times",
    libsbml.AST_DIVIDE: "divide",
    libsbml.AST_POWER: "power",
    libsbml.AST_FUNCTION_POWER: "power",
    libsbml.AST_FUNCTION_ROOT: "root",
    libsbml.AST_FUNCTION_LOG: "log",
    libsbml.AST_FUNCTION_LN: "ln",
    libsbml.AST_FUNCTION_EXP: "exp",
    libsbml.AST_FUNCTION_ABS: "abs",
    libsbml.AST_FUNCTION_FLOOR: "floor",
    libsbml.AST_FUNCTION_CEILING: "ceiling",
    libsbml.AST_FUNCTION_SIN: "sin",
    libsbml.AST_FUNCTION_COS: "cos",
    libsbml.AST_FUNCTION_TAN: "tan",
    libsbml.AST_FUNCTION_SINH: "sinh",
    libsbml.AST_FUNCTION_COSH: "cosh",
    libsbml.AST_FUNCTION_TANH: "tanh",
    libsbml.AST_FUNCTION_ARCSIN: "arcsin",
    libsbml.AST_FUNCTION_ARCCOS: "arccos",
    libsbml.AST_FUNCTION_ARCTAN: "arctan",
    libsbml.AST_FUNCTION_MIN: "min",
    libsbml.AST_FUNCTION_MAX: "max",
    libsbml.AST_FUNCTION_PIECEWISE: "piecewise",
    libsbml.AST_LOGICAL_AND: "and",
    libsbml.AST_LOGICAL_OR: "or",
    libsbml.AST_LOGICAL_XOR: "xor",
    libsbml.AST_LOGICAL_NOT: "not",
    libsbml.AST_LOGICAL_IMPLIES: "implies",
    libsbml.AST_RELATIONAL_EQ: "eq",
    libsbml.AST_RELATIONAL_NEQ: "neq",
    libsbml.AST_RELATIONAL_GT: "gt",
    libsbml.AST_RELATIONAL_GEQ: "geq",
    libsbml.AST_RELATIONAL_LT: "lt",
    libsbml.AST_RELATIONAL_LEQ: "leq",
}
_OPERATION_ASTS: dict[str, int] = {
    name: ast_type
    for ast_type, name in _AST_OPERATIONS.items()
    if ast_type != libsbml.AST_FUNCTION_POWER
}
_AST_CONSTANTS: dict[int, float] = {
    libsbml.AST_CONSTANT_PI: float(np.pi),
    libsbml.AST_CONSTANT_E: float(np.e),
    libsbml.AST_CONSTANT_TRUE: 1.0,
    libsbml.AST_CONSTANT_FALSE: 0.0,
}
_AST_UNSUPPORTED: dict[int, str] = {
    libsbml.AST_FUNCTION_DELAY: "delay",
    libsbml.AST_FUNCTION_RATE_OF: "rateOf",
    libsbml.AST_FUNCTION_FACTORIAL: "factorial",
    libsbml.AST_FUNCTION_QUOTIENT: "quotient",
    libsbml.AST_FUNCTION_REM: "rem",
    libsbml.AST_LAMBDA: "lambda",
}


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


def _check_node(node: Node) -> None:
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
            _check_node(node)
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
        """The expression as an SBML L3 infix formula."""
        return libsbml.formulaToL3String(to_ast(self.tree))


def parse(formula: str, **parameters: ArrayLike) -> Expression:
    """Parses an infix formula (SBML Level 3 syntax) into an :class:`Expression`.

    Identifiers given as keyword arguments are parameters; all others are species.
    The text is parsed by libsbml's formula parser, never evaluated as Python.

    Example:
        >>> parse("vmax * S / (Km + S)", vmax=10.0, Km=5.0).species
        ('S',)

    Args:
        formula: e.g. ``"k * X * (X - 1) / 2"``; ``^`` is power, ``&&``, ``||``, ``!``,
            comparisons and ``piecewise(value, condition, ..., otherwise)`` are available.
        **parameters: parameter values by name.

    Raises:
        ValueError: for a syntax error (with libsbml's message), unsupported functions, a
            formula that reads the time, or unused parameters.
    """
    if not isinstance(formula, str):
        raise ValueError(f"a formula must be a string, got {formula!r}")
    ast = libsbml.parseL3Formula(formula)
    if ast is None:
        message = libsbml.getLastParseL3Error().strip()
        raise ValueError(f"cannot parse formula {formula!r}: {message}")
    tree = from_ast(
        ast,
        lambda name: ("param", name) if name in parameters else ("species", name),
        where=f"formula {formula!r}",
    )
    return Expression(tree, parameters)


# --------------------------------------------------------------------------------- libsbml ASTs
class _Translator:
    """Translates one libsbml AST into a tree, inlining function definitions."""

    def __init__(self, resolve, functions, where, allow_time):
        self.resolve = resolve
        self.functions = functions
        self.where = where
        self.allow_time = allow_time
        self.size = 0
        self.calling: list[str] = []

    def fail(self, problem: str) -> ValueError:
        return ValueError(f"{self.where}: {problem}")

    def grow(self, depth: int, height: int, size: int) -> None:
        """Accounts for a subtree of ``height`` levels and ``size`` nodes placed at ``depth``."""
        self.size += size
        if depth + height - 1 > MAX_DEPTH:
            raise self.fail(f"math nested deeper than {MAX_DEPTH} levels")
        if self.size > MAX_NODES:
            raise self.fail(f"math larger than {MAX_NODES} nodes (after inlining functions)")

    def leaf(self, node: Node, depth: int) -> tuple[Node, int, int]:
        self.grow(depth, 1, 1)
        return node, 1, 1

    def translate(self, ast, depth: int, bindings: Mapping) -> tuple[Node, int, int]:
        """Returns ``(tree, height, size)`` of the subtree at ``ast`` placed at ``depth``."""
        if depth > MAX_DEPTH:
            raise self.fail(f"math nested deeper than {MAX_DEPTH} levels")
        kind = ast.getType()
        if ast.isNumber():
            value = float(ast.getValue())
            if np.isnan(value):
                raise self.fail("NaN constants are not supported")
            return self.leaf(("const", value), depth)
        if kind in _AST_CONSTANTS:
            return self.leaf(("const", _AST_CONSTANTS[kind]), depth)
        if kind == libsbml.AST_NAME_AVOGADRO:
            return self.leaf(("const", float(ast.getValue())), depth)
        if kind == libsbml.AST_NAME_TIME:
            if not self.allow_time:
                raise self.fail(
                    "the math uses time; jumpax rate laws, rules and event assignments must "
                    "depend on the state only"
                )
            return self.leaf(("time",), depth)
        if kind == libsbml.AST_NAME:
            return self.name(ast.getName(), depth, bindings)
        if kind == libsbml.AST_FUNCTION:
            return self.call(ast, depth, bindings)
        if kind in _AST_UNSUPPORTED:
            raise self.fail(f"the MathML function {_AST_UNSUPPORTED[kind]!r} is not supported")
        if kind not in _AST_OPERATIONS:
            label = ast.getName() or libsbml.formulaToL3String(ast)
            raise self.fail(f"unsupported MathML element {label!r}")
        children = [
            self.translate(ast.getChild(i), depth + 1, bindings)
            for i in range(ast.getNumChildren())
        ]
        node = (_AST_OPERATIONS[kind], *(child for child, _, _ in children))
        try:
            _check_node(node)
        except ValueError as error:
            raise self.fail(str(error)) from None
        self.grow(depth, 1, 1)
        height = 1 + max((h for _, h, _ in children), default=0)
        return node, height, 1 + sum(s for _, _, s in children)

    def name(self, name: str, depth: int, bindings: Mapping) -> tuple[Node, int, int]:
        if name in bindings:
            node, height, size = bindings[name]
        elif self.calling:
            raise self.fail(
                f"function {self.calling[-1]!r} uses {name!r}, which is not one of its arguments"
            )
        else:
            try:
                node = self.resolve(name)
            except ValueError as error:
                raise self.fail(str(error)) from None
            if node is None:
                raise self.fail(f"undefined identifier {name!r}")
            height, size = measure(node)
        self.grow(depth, height, size)
        return node, height, size

    def call(self, ast, depth: int, bindings: Mapping) -> tuple[Node, int, int]:
        name = ast.getName()
        if name not in self.functions:
            raise self.fail(f"undefined function {name!r}")
        if name in self.calling:
            raise self.fail(f"function {name!r} calls itself")
        arguments, body = self.functions[name]
        if ast.getNumChildren() != len(arguments):
            raise self.fail(
                f"function {name!r} takes {len(arguments)} arguments, "
                f"got {ast.getNumChildren()}"
            )
        before = self.size
        values = [
            self.translate(ast.getChild(i), depth, bindings) for i in range(ast.getNumChildren())
        ]
        # The arguments count where they are used in the body, not where they are written.
        self.size = before
        self.calling.append(name)
        result = self.translate(body, depth, dict(zip(arguments, values, strict=True)))
        self.calling.pop()
        return result


def from_ast(
    ast: libsbml.ASTNode,
    resolve: Resolver,
    *,
    where: str,
    functions: Mapping[str, tuple[tuple[str, ...], libsbml.ASTNode]] | None = None,
    allow_time: bool = False,
) -> Node:
    """Translates a libsbml math AST into an expression tree.

    Args:
        ast: the parsed math.
        resolve: maps each identifier to its tree (or ``None`` if undefined).
        where: names the math's owner in error messages, e.g. ``"reaction 'R1' kinetic law"``.
        functions: function definitions by id, as ``(argument names, body AST)``; calls are
            inlined.
        allow_time: whether the math may read the time (``("time",)`` nodes).

    Returns:
        The tree, at most :data:`MAX_DEPTH` deep and :data:`MAX_NODES` large.

    Raises:
        ValueError: naming ``where``, for undefined identifiers or functions, unsupported
            MathML (``delay``, ``rateOf``, ``factorial``, ...), time where it is not
            allowed, NaN constants, wrong argument counts and oversized math.
    """
    if ast is None:
        raise ValueError(f"{where}: the math is missing")
    tree, _, _ = _Translator(resolve, functions or {}, where, allow_time).translate(ast, 1, {})
    return tree


def to_ast(tree: Node, rename: Mapping[str, str] | None = None) -> libsbml.ASTNode:
    """Converts an expression tree into a libsbml AST (for writing MathML).

    Args:
        tree: an expression tree.
        rename: identifiers to write instead of parameter names (absent names are kept).

    Returns:
        The AST; species and parameters become ``<ci>`` identifiers.
    """
    rename = rename or {}
    kind = tree[0]
    if kind == "const":
        ast = libsbml.ASTNode(libsbml.AST_REAL)
        ast.setValue(tree[1])
        return ast
    if kind in ("species", "param"):
        ast = libsbml.ASTNode(libsbml.AST_NAME)
        ast.setName(rename.get(tree[1], tree[1]) if kind == "param" else tree[1])
        return ast
    if kind == "time":
        ast = libsbml.ASTNode(libsbml.AST_NAME_TIME)
        ast.setName("time")
        return ast
    ast = libsbml.ASTNode(_OPERATION_ASTS[kind])
    for child in tree[1:]:
        ast.addChild(to_ast(child, rename))
    return ast


# --------------------------------------------------------------------------------- modules
class StateFunction(eqx.Module):
    """An expression evaluated on a state vector with a fixed species order.

    This is the callable ``f(x)`` that :class:`~jumpax.events.AssignmentRule`,
    :class:`~jumpax.events.TimeEvent` and :class:`~jumpax.events.StateEvent` expect; its
    parameters stay trainable and :func:`jumpax.to_sbml` can write it as MathML.

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
    applied. The network sets the propensity to 0 while the reaction's reactants are not
    available. A negative, infinite or NaN propensity while they are available means the
    rate law is wrong for the model: the simulation stops with a ``RuntimeError`` (raised by
    :func:`equinox.error_if`, which also works under ``jit``; the ``EQX_ON_ERROR``
    environment variable can change this) instead of continuing with a silently wrong path.

    Example:
        >>> ExpressionKinetics("k1 * (100 - 2 * P2) * (99 - 2 * P2) / 2", k1=0.001)

    Attributes:
        expression: the rate law; its parameters are trainable.
    """

    expression: Expression

    def __init__(self, expression: Expression | str, **parameters: ArrayLike):
        """Creates the kinetics from an :class:`Expression` or an infix formula.

        Args:
            expression: an expression, or a formula parsed by :func:`parse`.
            **parameters: parameter values, only with a formula.

        Raises:
            ValueError: for a formula that cannot be parsed, or parameters given with an
                :class:`Expression`.
        """
        if isinstance(expression, str):
            expression = parse(expression, **parameters)
        elif parameters:
            raise ValueError("parameters are given with a formula, not with an Expression")
        if not isinstance(expression, Expression):
            raise ValueError(f"expected an Expression or a formula, got {expression!r}")
        self.expression = expression

    @property
    def species_refs(self) -> tuple[str, ...]:
        """The species the rate law reads."""
        return self.expression.species

    def propensity(self, x: Array, reactants: Reactants, index: Mapping[str, int], volume: Array):
        """The expression's value; an error if it is negative or not finite while it counts."""
        value = jnp.asarray(self.expression.evaluate(x, index), dtype=x.dtype)
        available = jnp.all(jnp.asarray([x[i] >= s for i, s in reactants], dtype=bool))
        invalid = available & ~((value >= 0) & jnp.isfinite(value))
        return eqx.error_if(
            value,
            invalid,
            f"the rate law {self.expression} gave a negative or non-finite propensity",
        )
