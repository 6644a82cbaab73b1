"""The ``jumpax:kinetics`` annotation: a built-in kinetics class and its exact parameters.

:func:`jumpax.to_sbml` writes it beside each kinetic law of a built-in class, and
:func:`jumpax.load_sbml` rebuilds that class from it after checking that the MathML is the
class's own law (:meth:`~jumpax.AbstractKinetics.rate_law`) with the annotated values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import libsbml

from .._network._expressions import FOLDS, OPERATIONS, Expression, ExpressionKinetics, Node
from .._network._kinetics import (
    AbstractKinetics,
    Constant,
    HillActivation,
    HillRepression,
    MassAction,
    MichaelisMenten,
)
from .._network._network import Side

NAMESPACE = "https://github.com/jumpax/jumpax/sbml"
"""XML namespace of jumpax's kinetics annotations."""

LARGEST_MASS_ACTION_COEFFICIENT = 170
"""The largest reactant coefficient of an annotated ``MassAction`` law: its math divides by
``s!``, and ``171!`` is not a finite double (nor is the law small enough to build for the
coefficients of up to ``2**31 - 1`` that SBML stoichiometries may have)."""

RELATIVE_TOLERANCE = 1e-9
"""How closely an annotated value must match the MathML's (the MathML is written with 15
significant digits, the annotation with 17; a larger difference means an edit)."""

ANNOTATED_KINETICS: dict[str, type[AbstractKinetics]] = {
    cls.__name__: cls
    for cls in (MassAction, Constant, HillActivation, HillRepression, MichaelisMenten)
}
"""Kinetics classes written as (and rebuilt from) ``jumpax:kinetics`` annotations."""


def annotation(kinetics: AbstractKinetics) -> libsbml.XMLNode:
    """The annotation of a built-in kinetics object: its class and parameter values.

    Parameters are written as the rate law reads them (:attr:`AbstractKinetics.parameters`):
    a ``MassAction`` with a ``transform`` is written with its rate constant, untransformed.
    """
    attributes = libsbml.XMLAttributes()
    attributes.add("class", type(kinetics).__name__)
    parameters = kinetics.parameters
    for field in dataclasses.fields(kinetics):
        value = getattr(kinetics, field.name)
        if field.metadata.get("provenance", False):
            continue  # where a value came from (a file's parameter), not what the law is
        if field.metadata.get("static", False):
            if value is not None and not callable(value):
                attributes.add(field.name, str(value))
        else:
            attributes.add(field.name, repr(float(parameters[field.name])))
    namespaces = libsbml.XMLNamespaces()
    namespaces.add(NAMESPACE, "jumpax")
    return libsbml.XMLNode(
        libsbml.XMLTriple("kinetics", NAMESPACE, "jumpax"), attributes, namespaces
    )


def annotated_kinetics(law: libsbml.KineticLaw, rid: str) -> AbstractKinetics | None:
    """The kinetics of a kinetic law's ``jumpax:kinetics`` annotation, or ``None``.

    Raises:
        ValueError: for an unknown class, unknown attributes or invalid values.
    """
    found = law.getAnnotation()
    for i in range(found.getNumChildren() if found is not None else 0):
        node = found.getChild(i)
        if node.getURI() != NAMESPACE or node.getName() != "kinetics":
            continue
        attributes = {
            node.getAttrName(j): node.getAttrValue(j) for j in range(node.getAttributesLength())
        }
        where = f"reaction {rid!r}: the jumpax kinetics annotation"
        cls = ANNOTATED_KINETICS.get(attributes.pop("class", ""))
        if cls is None:
            known = ", ".join(ANNOTATED_KINETICS)
            raise ValueError(f"{where} names no known kinetics class ({known})")
        fields = {f.name: f.metadata.get("static", False) for f in dataclasses.fields(cls)}
        unknown = sorted(set(attributes) - set(fields))
        if unknown:
            raise ValueError(f"{where} has unknown attributes {unknown} for {cls.__name__}")
        try:
            arguments = {
                key: value if fields[key] else float(value) for key, value in attributes.items()
            }
            return cls(**arguments)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
    return None


def _canonical(tree: Node, values: Mapping[str, float]) -> Node:
    """``tree`` with every parameter replaced by its value and left-nested folds flattened.

    libsbml reads ``<apply><times/> a b c</apply>`` as ``(a * b) * c``; both are the same left
    fold, so ``times(times(a, b), c)`` and ``times(a, b, c)`` compare equal.
    """
    kind = tree[0]
    if kind == "param":
        return ("const", values[tree[1]])
    if kind not in OPERATIONS:
        return tree
    children = [_canonical(child, values) for child in tree[1:]]
    if kind in FOLDS and children and children[0][0] == kind:
        children[:1] = children[0][1:]
    return (kind, *children)


def _agree(expected: Node, actual: Node) -> bool:
    """Whether two canonical trees are the same, constants equal to :data:`RELATIVE_TOLERANCE`."""
    if expected[0] != actual[0] or len(expected) != len(actual):
        return False
    if expected[0] == "const":
        return math.isclose(expected[1], actual[1], rel_tol=RELATIVE_TOLERANCE)
    if expected[0] not in OPERATIONS:
        return expected == actual
    return all(_agree(a, b) for a, b in zip(expected[1:], actual[1:], strict=True))


def _short(expression: Expression, limit: int = 200) -> str:
    text = str(expression)
    return text if len(text) <= limit else f"{text[: limit - 5]} ..."


def check_agreement(
    annotated: AbstractKinetics,
    law: ExpressionKinetics,
    reactants: Side,
    index: Mapping[str, int],
    volume: float,
    rid: str,
) -> None:
    """Refuses an annotation that does not describe the kinetic law's MathML.

    The MathML must be the annotated class's :meth:`~jumpax.AbstractKinetics.rate_law`, with
    the annotated parameter values and the network's volume in place of the parameters it
    reads: the same tree, node for node, with every value equal to a relative
    :data:`RELATIVE_TOLERANCE` (in double precision, so the 15 digits SBML writes and the 17
    of the annotation agree, and no value is rounded to float32 first: ``1e39`` and ``1e40``,
    or ``0`` and ``1e-50``, are different values even where float32 cannot tell them apart).
    Equal trees are equal laws at every state, not only at the initial one. A file edited by
    another tool keeps a stale annotation, and jumpax would otherwise simulate something other
    than the file's math.

    Raises:
        ValueError: naming the reaction, for an annotation whose class cannot drive it or whose
            law differs from the MathML.
    """
    where = f"reaction {rid!r}: the jumpax kinetics annotation ({type(annotated).__name__})"
    try:
        annotated.check_reaction(tuple((index[name], s) for name, s in reactants))
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    largest = max((s for _, s in reactants), default=0)
    if isinstance(annotated, MassAction) and largest > LARGEST_MASS_ACTION_COEFFICIENT:
        # its law would divide by largest! (not a finite double), built from largest factors
        raise ValueError(
            f"{where}: a reactant coefficient of {largest} has no mass-action law in math "
            f"(more than {LARGEST_MASS_ACTION_COEFFICIENT}); remove the annotation to use the "
            "MathML"
        )
    values = {name: float(value) for name, value in annotated.parameters.items()}
    expected = _canonical(annotated.rate_law(reactants, ("const", float(volume))), values)
    actual = _canonical(
        law.expression.tree, {name: float(v) for name, v in law.parameters.items()}
    )
    if not _agree(expected, actual):
        raise ValueError(
            f"{where} gives the law {_short(Expression(expected))}, but the kinetic law is "
            f"{_short(law.expression)} = {_short(Expression(actual))}; the file was probably "
            "edited by another tool: remove the annotation to use the MathML"
        )
