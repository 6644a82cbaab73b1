"""MathML <-> expression trees: libsbml ASTs translated node by node, never evaluated as text.

:func:`from_ast` turns a parsed MathML tree into a jumpax expression tree, inlining function
definitions and enforcing the expression size limits (``MAX_DEPTH`` levels, ``MAX_NODES``
nodes) while it goes, so hostile math cannot blow up; :func:`to_ast` goes the other way for
writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import libsbml
import numpy as np

from .._network._expressions import MAX_DEPTH, MAX_NODES, Node, check_node, measure

Resolver = Callable[[str], Node | None]
"""Maps an identifier in math to the tree it stands for, or ``None`` if it is undefined."""

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
    libsbml.AST_FUNCTION_QUOTIENT: "quotient",
    libsbml.AST_FUNCTION_REM: "rem",
    libsbml.AST_FUNCTION_FACTORIAL: "factorial",
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
    libsbml.AST_FUNCTION_SEC: "sec",
    libsbml.AST_FUNCTION_CSC: "csc",
    libsbml.AST_FUNCTION_COT: "cot",
    libsbml.AST_FUNCTION_SECH: "sech",
    libsbml.AST_FUNCTION_CSCH: "csch",
    libsbml.AST_FUNCTION_COTH: "coth",
    libsbml.AST_FUNCTION_ARCSEC: "arcsec",
    libsbml.AST_FUNCTION_ARCCSC: "arccsc",
    libsbml.AST_FUNCTION_ARCCOT: "arccot",
    libsbml.AST_FUNCTION_ARCSINH: "arcsinh",
    libsbml.AST_FUNCTION_ARCCOSH: "arccosh",
    libsbml.AST_FUNCTION_ARCTANH: "arctanh",
    libsbml.AST_FUNCTION_ARCSECH: "arcsech",
    libsbml.AST_FUNCTION_ARCCSCH: "arccsch",
    libsbml.AST_FUNCTION_ARCCOTH: "arccoth",
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
    libsbml.AST_LAMBDA: "lambda",
}



class _Translator:
    """Translates one libsbml AST into a tree, inlining function definitions."""

    def __init__(self, resolve, functions, where, allow_time, rate_of=None):
        self.resolve = resolve
        self.rate_of = rate_of
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
        if kind == libsbml.AST_FUNCTION_RATE_OF and self.rate_of is not None:
            return self.rate(ast, depth, bindings)
        if kind in _AST_UNSUPPORTED:
            raise self.fail(f"the MathML function {_AST_UNSUPPORTED[kind]!r} is not supported")
        if kind not in _AST_OPERATIONS:
            label = ast.getName() or libsbml.formulaToL3String(ast)
            if kind == libsbml.AST_UNKNOWN:  # e.g. an <apply> whose operator libsbml lost
                raise self.fail(f"malformed MathML: libsbml could not read {label!r}")
            raise self.fail(f"unsupported MathML element {label!r}")
        children = [
            self.translate(ast.getChild(i), depth + 1, bindings)
            for i in range(ast.getNumChildren())
        ]
        node = (_AST_OPERATIONS[kind], *(child for child, _, _ in children))
        try:
            check_node(node)
        except ValueError as error:
            raise self.fail(str(error)) from None
        self.grow(depth, 1, 1)
        height = 1 + max((h for _, h, _ in children), default=0)
        return node, height, 1 + sum(s for _, _, s in children)

    def rate(self, ast, depth: int, bindings: Mapping) -> tuple[Node, int, int]:
        """``rateOf(symbol)``: the tree of the symbol's rate of change (``rate_of``)."""
        child = ast.getChild(0) if ast.getNumChildren() == 1 else None
        if child is None or child.getType() != libsbml.AST_NAME or child.getName() in bindings:
            raise self.fail("rateOf takes one argument, the identifier of a model symbol")
        try:
            node = self.rate_of(child.getName())
        except ValueError as error:
            raise self.fail(str(error)) from None
        height, size = measure(node)
        self.grow(depth, height, size)
        return node, height, size

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
    rate_of: Resolver | None = None,
) -> Node:
    """Translates a libsbml math AST into an expression tree.

    Args:
        ast: the parsed math.
        resolve: maps each identifier to its tree (or ``None`` if undefined).
        where: names the math's owner in error messages, e.g. ``"reaction 'R1' kinetic law"``.
        functions: function definitions by id, as ``(argument names, body AST)``; calls are
            inlined.
        allow_time: whether the math may read the time (``("time",)`` nodes).
        rate_of: maps a symbol to the tree of its rate of change, for ``rateOf``; ``None``
            refuses ``rateOf``.

    Returns:
        The tree, at most :data:`MAX_DEPTH` deep and :data:`MAX_NODES` large.

    Raises:
        ValueError: naming ``where``, for undefined identifiers or functions, unsupported
            MathML (``delay``, ``rateOf`` without a resolver, ...), time where it is not
            allowed, NaN constants, wrong argument counts and oversized math.
    """
    if ast is None:
        raise ValueError(f"{where}: the math is missing")
    translator = _Translator(resolve, functions or {}, where, allow_time, rate_of)
    tree, _, _ = translator.translate(ast, 1, {})
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


