"""SBML import and export: :func:`load_sbml`, :func:`to_sbml` and test-suite settings files.

:func:`load_sbml` reads an SBML file (any level; libsbml converts it to Level 3 Version 2)
into a :class:`~jumpax.ReactionNetwork` that :func:`jumpax.simulate` runs exactly:

- every kinetic law becomes :class:`~jumpax.ExpressionKinetics`, its math translated from the
  parsed MathML tree (never evaluated as text). The law's value is the propensity in events
  per unit time, "as written" (the SBML Test Suite / DSMTS convention). A species symbol means
  its amount if ``hasOnlySubstanceUnits`` is true and its concentration (amount divided by its
  compartment's size) otherwise; a compartment symbol means its size.
- global and reaction-local parameters (locals shadow globals) and compartment sizes become
  trainable parameter leaves of the expressions that read them (one copy per expression);
  function definitions, initial assignments and assignment rules on parameters and
  compartments are inlined or evaluated.
- boundary and constant species stay in the state (with their initial amount) but reactions
  do not change them; rate laws may read them.
- assignment rules on species become :class:`~jumpax.events.AssignmentRule`; events become
  :class:`~jumpax.events.TimeEvent` (trigger ``time >= c`` or ``time > c``) or
  :class:`~jumpax.events.StateEvent` (a trigger of the state only).

Everything jumpax cannot simulate exactly is refused with a ``ValueError`` naming the element:
rate and algebraic rules, delays, event priorities, triggers mixing time and state, events
that change parameters, reversible or fast reactions, non-integer stoichiometry or initial
amounts, conversion factors, constraints, time-dependent rate laws, unsupported MathML
functions and required SBML packages. Files larger than :data:`MAX_FILE_BYTES`, XML nested
deeper than :data:`MAX_XML_DEPTH` elements and math deeper than
:data:`jumpax.expressions.MAX_DEPTH` levels are refused before libsbml or JAX sees them.

:func:`to_sbml` writes a network as SBML Level 3 Version 2. Each kinetic law is written as
MathML (readable by any SBML tool) and, for jumpax's built-in kinetics classes, also as a
``jumpax:kinetics`` annotation that :func:`load_sbml` prefers (after checking that it agrees
with the MathML), so a network built in Python round-trips to the same kinetics classes and
parameter values.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import xml.parsers.expat
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
import libsbml
import numpy as np

from . import expressions
from .events import AssignmentRule, StateEvent, TimeEvent
from .expressions import Expression, ExpressionKinetics, Node, StateFunction
from .kinetics import (
    AbstractKinetics,
    Constant,
    HillActivation,
    HillRepression,
    MassAction,
    MichaelisMenten,
)
from .network import Reaction, ReactionNetwork

MAX_FILE_BYTES = 10_000_000
"""The largest SBML file :func:`load_sbml` reads."""

MAX_XML_DEPTH = 256
"""The deepest XML element nesting :func:`load_sbml` accepts."""

NAMESPACE = "https://github.com/jumpax/jumpax/sbml"
"""XML namespace of jumpax's kinetics annotations."""

_VOLUME = "__volume__"
"""Placeholder parameter name for the compartment size in exported mass-action laws."""

_ERROR = libsbml.LIBSBML_SEV_ERROR


# ==================================================================================== reading
def _read_text(source: str | os.PathLike | bytes) -> str:
    """The XML text of ``source``: a path, XML text, or XML bytes (size-checked)."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str) and source.lstrip().startswith("<"):
        data = source.encode()
    elif isinstance(source, str | os.PathLike):
        path = pathlib.Path(source)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(
                f"{path}: the file has {size} bytes, more than the limit of {MAX_FILE_BYTES}"
            )
        data = path.read_bytes()
    else:
        raise ValueError(f"expected a path or SBML text, got {type(source).__name__}")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the SBML text has {len(data)} bytes, more than {MAX_FILE_BYTES}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"SBML files must be UTF-8 encoded: {error}") from None


def _prescan(text: str) -> xml.parsers.expat.ExpatError | None:
    """Streams the XML once to refuse DOCTYPEs and deep nesting before libsbml parses it.

    Returns:
        The XML syntax error, if any (libsbml then gives its own message for it).

    Raises:
        ValueError: for a DOCTYPE declaration (entity expansion) or elements nested deeper
            than :data:`MAX_XML_DEPTH`.
    """
    parser = xml.parsers.expat.ParserCreate()
    depth = 0

    def start(name: str, attributes: dict) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise ValueError(
                f"line {parser.CurrentLineNumber}: XML elements nested deeper than "
                f"{MAX_XML_DEPTH} levels"
            )

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(*args: object) -> None:
        raise ValueError("DOCTYPE declarations (and XML entities) are not allowed in SBML files")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as error:
        return error
    return None


def _errors(document: libsbml.SBMLDocument) -> list[str]:
    """The error and fatal messages of libsbml, with line numbers."""
    found = []
    for i in range(document.getNumErrors()):
        error = document.getError(i)
        if error.getSeverity() >= _ERROR:
            found.append(f"line {error.getLine()}: {error.getMessage().strip()}")
    return found


def _raise_errors(document: libsbml.SBMLDocument, what: str) -> None:
    errors = _errors(document)
    if errors:
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ValueError(f"{what}:\n" + "\n".join(errors[:5]) + more)


def _parse_document(text: str) -> libsbml.SBMLDocument:
    """Parses, validates and converts to Level 3 Version 2 (errors are ``ValueError``)."""
    syntax_error = _prescan(text)
    document = libsbml.readSBMLFromString(text)
    _raise_errors(document, "invalid SBML")
    if syntax_error is not None:
        raise ValueError(f"malformed XML: {syntax_error}")
    if document.getModel() is None:
        raise ValueError("the SBML document has no model")
    core = document.getNamespaces().getURI()  # the default namespace: SBML core
    for i in range(document.getNumPlugins() if document.getLevel() == 3 else 0):
        plugin = document.getPlugin(i)
        package = plugin.getPackageName()
        if plugin.getURI() != core and document.getPackageRequired(package):
            raise ValueError(f"the SBML package {package!r} is required but not supported")
    for category in (libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, libsbml.LIBSBML_CAT_MODELING_PRACTICE):
        document.setConsistencyChecks(category, False)
    document.checkConsistency()
    _raise_errors(document, "inconsistent SBML")
    if (document.getLevel(), document.getVersion()) < (3, 1):
        if not document.setLevelAndVersion(3, 2, False):
            _raise_errors(document, "cannot convert the model to SBML Level 3")
            raise ValueError("cannot convert the model to SBML Level 3")
    return document


def _whole(value: float, what: str) -> float:
    """``value`` rounded to a whole number of molecules, refusing anything else."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} is {value}; jumpax needs a non-negative molecule count")
    rounded = round(value)
    if abs(value - rounded) > 1e-6 * max(1.0, abs(value)):
        raise ValueError(f"{what} is {value}, not a whole number of molecules")
    return float(rounded)


def _fresh(base: str, taken: set[str]) -> str:
    """``base``, or ``base_1``, ``base_2``, ... whichever is not taken (and takes it)."""
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


class _Loader:
    """Translates one libsbml model into a :class:`ReactionNetwork`."""

    def __init__(self, model: libsbml.Model):
        self.model = model
        self.species = {s.getId(): s for s in model.getListOfSpecies()}
        self.compartments = {c.getId(): c for c in model.getListOfCompartments()}
        self.parameters = {p.getId(): p for p in model.getListOfParameters()}
        self.functions = {
            f.getId(): (
                tuple(f.getArgument(i).getName() for i in range(f.getNumArguments())),
                f.getBody(),
            )
            for f in model.getListOfFunctionDefinitions()
        }
        self.initial_assignments = {
            a.getSymbol(): a.getMath() for a in model.getListOfInitialAssignments()
        }
        self.rules: dict[str, libsbml.ASTNode] = {}
        for rule in model.getListOfRules():
            if not rule.isAssignment():
                kind = "rate rule" if rule.isRate() else "algebraic rule"
                target = f" for {rule.getVariable()!r}" if rule.isRate() else ""
                raise ValueError(
                    f"{kind}{target}: only assignment rules are supported (an exact "
                    "stochastic simulation cannot integrate continuous rules)"
                )
            self.rules[rule.getVariable()] = rule.getMath()
        self.others = {r.getId(): "a reaction" for r in model.getListOfReactions()}
        for reaction in model.getListOfReactions():
            for reference in (*reaction.getListOfReactants(), *reaction.getListOfProducts()):
                if reference.isSetId():
                    self.others[reference.getId()] = "a species reference (stoichiometry)"
        self.rule_trees: dict[str, Node] = {}
        self.initial: dict[str, float] = {}
        self.pending: dict[str, list[str]] = {}
        self._refuse_unsupported()

    def _refuse_unsupported(self) -> None:
        model = self.model
        if model.getNumConstraints():
            raise ValueError("constraints are not supported (jumpax does not check them)")
        if model.isSetConversionFactor():
            raise ValueError("the model's conversionFactor is not supported")
        for sid, species in self.species.items():
            if species.isSetConversionFactor():
                raise ValueError(f"species {sid!r}: conversionFactor is not supported")
        for variable in (*self.rules, *self.initial_assignments):
            if variable in self.others:
                raise ValueError(
                    f"a rule or initial assignment sets {variable!r}, which is "
                    f"{self.others[variable]}: not supported"
                )
        for sid, compartment in self.compartments.items():
            if compartment.isSetSize() and not compartment.getSize() > 0:
                raise ValueError(
                    f"compartment {sid!r} has size {compartment.getSize()}; sizes must be positive"
                )

    # ----------------------------------------------------------------------- symbols
    def translate(self, ast, resolve, where: str, allow_time: bool = False) -> Node:
        return expressions.from_ast(
            ast, resolve, where=where, functions=self.functions, allow_time=allow_time
        )

    def unknown(self, name: str) -> None:
        """Raises for an identifier that exists but cannot be used in math."""
        if name in self.others:
            raise ValueError(f"{name!r} is {self.others[name]}, which jumpax cannot use in math")

    def resolve(self, name: str) -> Node | None:
        """The tree standing for ``name`` in math during the simulation."""
        if name in self.rules:
            return self.rule_tree(name)
        if name in self.species:
            amount = ("species", name)
            if self.species[name].getHasOnlySubstanceUnits():
                return amount
            return ("divide", amount, self.resolve(self.species[name].getCompartment()))
        if name in self.compartments or name in self.parameters:
            self.initial_value(name)  # refuses a symbol without a value
            return ("param", name)
        self.unknown(name)
        return None

    def rule_tree(self, variable: str) -> Node:
        if variable not in self.rule_trees:
            stack = self.enter(variable, "assignment rules")
            self.rule_trees[variable] = self.translate(
                self.rules[variable], self.resolve, f"the assignment rule for {variable!r}"
            )
            stack.pop()
        return self.rule_trees[variable]

    def enter(self, name: str, what: str) -> list[str]:
        """Pushes ``name`` on the stack of ``what`` being computed, refusing cycles."""
        stack = self.pending.setdefault(what, [])
        if name in stack:
            cycle = " -> ".join([*stack[stack.index(name) :], name])
            raise ValueError(f"circular {what}: {cycle}")
        stack.append(name)
        return stack

    def initial_value(self, name: str) -> float:
        """The value of symbol ``name`` in math at the initial time."""
        if name not in self.initial:
            stack = self.enter(name, "initial values")
            self.initial[name] = self._initial_value(name)
            stack.pop()
        return self.initial[name]

    def _initial_value(self, name: str) -> float:
        for source, what in ((self.initial_assignments, "initial assignment"),
                             (self.rules, "assignment rule")):
            if name in source:
                tree = self.translate(
                    source[name], self.resolve_initial, f"the {what} for {name!r}"
                )
                return float(Expression(tree).evaluate(jnp.zeros(0), {}))
        if name in self.species:
            amount = self.initial_amount(name)
            if self.species[name].getHasOnlySubstanceUnits():
                return amount
            return amount / self.initial_value(self.species[name].getCompartment())
        if name in self.compartments:
            if not self.compartments[name].isSetSize():
                raise ValueError(f"compartment {name!r} has no size")
            return self.compartments[name].getSize()
        parameter = self.parameters[name]
        if not parameter.isSetValue():
            raise ValueError(f"parameter {name!r} has no value")
        return parameter.getValue()

    def resolve_initial(self, name: str) -> Node | None:
        if name in self.species or name in self.compartments or name in self.parameters:
            return ("const", float(self.initial_value(name)))
        self.unknown(name)
        return None

    def initial_amount(self, sid: str) -> float:
        """A species' initial amount (before rounding)."""
        species = self.species[sid]
        if sid in self.initial_assignments or sid in self.rules:
            value = self.initial_value(sid)
            if species.getHasOnlySubstanceUnits():
                return value
            return value * self.initial_value(species.getCompartment())
        if species.isSetInitialAmount():
            return species.getInitialAmount()
        if species.isSetInitialConcentration():
            size = self.initial_value(species.getCompartment())
            return species.getInitialConcentration() * size
        raise ValueError(f"species {sid!r} has no initial amount or concentration")

    # ----------------------------------------------------------------------- building blocks
    def expression(self, tree: Node, local: Mapping[str, float] | None = None) -> Expression:
        """The tree with its parameter values (local ones first, then global initial values)."""
        local = local or {}
        values = {
            name: local[name] if name in local else self.initial_value(name)
            for name in expressions.names(tree, "param")
        }
        return Expression(tree, values)

    def amount_tree(self, sid: str, tree: Node) -> Node:
        """Converts a value in ``sid``'s math units (amount or concentration) to an amount."""
        if self.species[sid].getHasOnlySubstanceUnits():
            return tree
        return ("times", tree, self.resolve(self.species[sid].getCompartment()))

    def state_function(self, sid: str, tree: Node) -> StateFunction:
        return StateFunction(self.expression(self.amount_tree(sid, tree)), tuple(self.species))

    def side(self, references, reaction_id: str) -> str:
        terms = []
        for reference in references:
            sid = reference.getSpecies()
            species = self.species[sid]
            if species.getBoundaryCondition() or species.getConstant():
                continue
            where = f"reaction {reaction_id!r}, species {sid!r}"
            if not reference.isSetStoichiometry():
                raise ValueError(f"{where}: the stoichiometry is not set")
            value = reference.getStoichiometry()
            if value <= 0 or value != round(value):
                raise ValueError(
                    f"{where}: stoichiometry {value} is not a positive integer"
                )
            terms.append(sid if value == 1 else f"{int(value)} {sid}")
        return " + ".join(terms) or "0"

    # ----------------------------------------------------------------------- the network
    def network(self) -> ReactionNetwork:
        species = tuple(self.species)
        x0 = {
            sid: _whole(self.initial_amount(sid), f"the initial amount of species {sid!r}")
            for sid in species
        }
        sizes = [c.getSize() for c in self.compartments.values() if c.isSetSize()]
        volume = sizes[0] if len(self.compartments) == 1 and sizes else 1.0
        index = {sid: i for i, sid in enumerate(species)}
        reactions = [
            self.reaction(r, x0, index, volume) for r in self.model.getListOfReactions()
        ]
        if not reactions:
            raise ValueError("the SBML model has no reactions")
        rules = [
            AssignmentRule(sid, self.state_function(sid, self.rule_tree(sid)))
            for sid in self.rules
            if sid in self.species
        ]
        events = [self.event(e, i) for i, e in enumerate(self.model.getListOfEvents())]
        return ReactionNetwork(
            reactions, species=species, volume=volume, x0=x0, rules=rules, events=events
        )

    def reaction(
        self, reaction, x0: Mapping[str, float], index: Mapping[str, int], volume: float
    ) -> Reaction:
        rid = reaction.getId()
        if reaction.getReversible():
            raise ValueError(
                f"reaction {rid!r} is reversible; write the forward and backward directions "
                "as two irreversible reactions"
            )
        if reaction.isSetFast() and reaction.getFast():
            raise ValueError(f"reaction {rid!r} is fast; fast reactions are not supported")
        law = reaction.getKineticLaw()
        if law is None or not law.isSetMath():
            raise ValueError(f"reaction {rid!r} has no kinetic law")
        string = (
            f"{self.side(reaction.getListOfReactants(), rid)} -> "
            f"{self.side(reaction.getListOfProducts(), rid)}"
        )
        local = {}
        for parameter in law.getListOfLocalParameters():
            if not parameter.isSetValue():
                raise ValueError(
                    f"reaction {rid!r}: local parameter {parameter.getId()!r} has no value"
                )
            local[parameter.getId()] = parameter.getValue()
        global_reads: set[str] = set()

        def resolve(name: str) -> Node | None:
            if name in local:
                return ("param", name)
            node = self.resolve(name)
            if node is not None:
                global_reads.update(expressions.names(node, "param"))
            return node

        tree = self.translate(law.getMath(), resolve, f"the kinetic law of reaction {rid!r}")
        clashes = sorted(global_reads & set(local))
        if clashes:
            raise ValueError(
                f"reaction {rid!r}: local parameters {clashes} shadow global ones that an "
                "assignment rule read by the kinetic law also uses; rename them"
            )
        kinetics = ExpressionKinetics(self.expression(tree, local))
        name = reaction.getName() if reaction.isSetName() else rid
        annotated = _annotated_kinetics(law, rid)
        if annotated is None:
            return Reaction(string, kinetics, name)
        result = Reaction(string, annotated, name)
        reactants = tuple((index[s], c) for s, c in result.reactants)
        _check_agreement(annotated, kinetics, reactants, index, volume, x0, rid)
        return result

    def event(self, event, position: int) -> TimeEvent | StateEvent:
        eid = event.getId() if event.isSetId() else f"#{position + 1}"
        where = f"event {eid!r}"
        if event.isSetDelay():
            raise ValueError(f"{where} has a delay; delayed events are not supported")
        if event.isSetPriority():
            raise ValueError(f"{where} has a priority; event priorities are not supported")
        trigger = event.getTrigger()
        if trigger is None or not trigger.isSetMath():
            raise ValueError(f"{where} has no trigger")
        assignments = []
        for assignment in event.getListOfEventAssignments():
            variable = assignment.getVariable()
            if variable not in self.species or self.species[variable].getConstant():
                raise ValueError(
                    f"{where} assigns {variable!r}, which is not a variable species; events "
                    "may only change species amounts"
                )
            tree = self.translate(
                assignment.getMath(), self.resolve, f"{where}, the assignment to {variable!r}"
            )
            assignments.append((variable, self.state_function(variable, tree)))
        tree = self.translate(
            trigger.getMath(), self.resolve, f"the trigger of {where}", allow_time=True
        )
        initial_value = trigger.getInitialValue()
        if not expressions.uses_time(tree):
            condition = self.expression(tree)
            if not condition.is_condition:
                raise ValueError(f"the trigger of {where} is not a condition: {condition}")
            return StateEvent(
                StateFunction(condition, tuple(self.species)), assignments, initial_value
            )
        time = self.trigger_time(tree, where)
        if time <= 0 and not initial_value:
            raise ValueError(
                f"{where} fires at the initial time (time >= {time} with initialValue=false); "
                "jumpax time events fire only after t0"
            )
        return TimeEvent(time, assignments)

    def trigger_time(self, tree: Node, where: str) -> float:
        """``c`` of a trigger ``time >= c`` (or ``time > c``, ``c <= time``, ``c < time``)."""
        kind, operands = tree[0], tree[1:]
        flipped = {"leq": "geq", "lt": "gt"}
        if kind in flipped and len(operands) == 2:
            kind, operands = flipped[kind], operands[::-1]
        if kind in ("geq", "gt") and len(operands) == 2 and operands[0] == ("time",):
            bound = operands[1]
            if not expressions.uses_time(bound) and not expressions.names(bound, "species"):
                return float(self.expression(bound).evaluate(jnp.zeros(0), {}))
        raise ValueError(
            f"the trigger of {where} mixes time with other conditions; jumpax supports "
            "'time >= value' triggers and triggers on the state alone"
        )


def _annotated_kinetics(law: libsbml.KineticLaw, rid: str) -> AbstractKinetics | None:
    """The kinetics of a ``jumpax:kinetics`` annotation, or ``None`` if there is none."""
    annotation = law.getAnnotation()
    if annotation is None:
        return None
    for i in range(annotation.getNumChildren()):
        node = annotation.getChild(i)
        if node.getURI() != NAMESPACE or node.getName() != "kinetics":
            continue
        attributes = {node.getAttrName(j): node.getAttrValue(j)
                      for j in range(node.getAttributesLength())}
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


def _check_agreement(
    annotated: AbstractKinetics,
    law: ExpressionKinetics,
    reactants: tuple[tuple[int, int], ...],
    index: Mapping[str, int],
    volume: float,
    x0: Mapping[str, float],
    rid: str,
) -> None:
    """Refuses an annotation whose propensities differ from the MathML law's.

    Both are evaluated at a few states around the initial state (where the reactants are
    available); a file edited by another tool keeps a stale annotation.
    """
    base = np.asarray(list(x0.values()), dtype=np.float32)
    for shift in (0.0, 1.0, 2.0, 7.0):
        x = jnp.asarray(base + shift)
        if not all(x[i] >= s for i, s in reactants):
            continue
        a = float(annotated.propensity(x, reactants, index, jnp.asarray(volume)))
        b = float(law.propensity(x, reactants, index, jnp.asarray(volume)))
        if not np.isclose(a, b, rtol=1e-5, atol=0.0):
            raise ValueError(
                f"reaction {rid!r}: the jumpax kinetics annotation ({type(annotated).__name__}, "
                f"propensity {a}) disagrees with the kinetic law {law.expression} ({b}) at "
                f"x = {np.asarray(x).tolist()}; the file was probably edited by another tool: "
                "remove the annotation to use the MathML"
            )


def load_sbml(source: str | os.PathLike | bytes) -> ReactionNetwork:
    """Loads an SBML model as a simulable :class:`~jumpax.ReactionNetwork`.

    See the module docstring for the semantics and what is refused.

    Example:
        >>> m = jx.load_sbml("model.xml")
        >>> res = jx.simulate(key, m, m.x0, 50.0, save_at=jnp.arange(51.0),
        ...                   num_trajectories=1000)

    Args:
        source: a file path, or the SBML text itself (a string starting with ``<``, or
            bytes).

    Returns:
        The network, with the model's species (in file order) as :attr:`species`, its initial
        amounts as :attr:`x0`, assignment rules and events; reaction names are the SBML names
        (or ids).

    Raises:
        FileNotFoundError: for a missing file.
        ValueError: for malformed XML or invalid SBML (with libsbml's messages), oversized or
            too deeply nested input, undefined identifiers, and any unsupported element
            (the message names it).
    """
    document = _parse_document(_read_text(source))
    return _Loader(document.getModel()).network()


# ==================================================================================== writing
def _falling_factorial(name: str, coefficient: int) -> Node:
    """``C(x, s)`` as math: ``x (x - 1) ... (x - s + 1) / s!``."""
    x = ("species", name)
    if coefficient == 1:
        return x
    factors = [x, *(("minus", x, ("const", float(m))) for m in range(1, coefficient))]
    return ("divide", ("times", *factors), ("const", float(math.factorial(coefficient))))


def _hill(kinetics: HillActivation | HillRepression, activation: bool) -> Node:
    """``vmax R^n / (K^n + R^n)`` (activation) or ``vmax K^n / (K^n + R^n)`` (repression)."""
    r_n = ("power", ("species", kinetics.regulator), ("param", "n"))
    k_n = ("power", ("param", "K"), ("param", "n"))
    numerator = r_n if activation else k_n
    return ("times", ("param", "vmax"), ("divide", numerator, ("plus", k_n, r_n)))


def _mass_action(kinetics: MassAction, reaction: Reaction) -> Node:
    order = sum(s for _, s in reaction.reactants)
    factors = [("param", "k")]
    if order != 1:
        factors.append(("power", ("param", _VOLUME), ("const", float(1 - order))))
    factors += [_falling_factorial(name, s) for name, s in reaction.reactants]
    return ("times", *factors)


def _michaelis_menten(kinetics: MichaelisMenten, reaction: Reaction) -> Node:
    s = ("species", kinetics.substrate or reaction.reactants[0][0])
    return ("divide", ("times", ("param", "vmax"), s), ("plus", ("param", "Km"), s))


_LAWS: dict[type[AbstractKinetics], Callable[[Any, Reaction], Node]] = {
    MassAction: _mass_action,
    Constant: lambda kinetics, reaction: ("param", "rate"),
    HillActivation: lambda kinetics, reaction: _hill(kinetics, activation=True),
    HillRepression: lambda kinetics, reaction: _hill(kinetics, activation=False),
    MichaelisMenten: _michaelis_menten,
}
"""The propensity, as math, of each built-in kinetics class (parameters named by field)."""

ANNOTATED_KINETICS: dict[str, type[AbstractKinetics]] = {cls.__name__: cls for cls in _LAWS}
"""Kinetics classes written as (and rebuilt from) ``jumpax:kinetics`` annotations."""


def _law(kinetics: AbstractKinetics, reaction: Reaction) -> tuple[Node, dict[str, float]]:
    """A reaction's propensity as math, with the values of the parameters it reads.

    Raises:
        ValueError: for kinetics that cannot be written as math (subclasses included: they
            may compute something else).
    """
    if type(kinetics) is ExpressionKinetics:
        values = kinetics.expression.parameters
        return kinetics.expression.tree, {k: float(v) for k, v in values.items()}
    if type(kinetics) not in _LAWS:
        raise ValueError(
            f"reaction {reaction.label!r}: cannot write {type(kinetics).__name__} kinetics as "
            f"SBML (supported: ExpressionKinetics and {', '.join(ANNOTATED_KINETICS)})"
        )
    fields = {
        f.name: float(getattr(kinetics, f.name))
        for f in dataclasses.fields(kinetics)
        if not f.metadata.get("static", False)
    }
    return _LAWS[type(kinetics)](kinetics, reaction), fields


def _annotation(kinetics: AbstractKinetics) -> libsbml.XMLNode:
    attributes = libsbml.XMLAttributes()
    attributes.add("class", type(kinetics).__name__)
    for field in dataclasses.fields(kinetics):
        value = getattr(kinetics, field.name)
        if field.metadata.get("static", False):
            if value is not None:
                attributes.add(field.name, str(value))
        else:
            attributes.add(field.name, repr(float(value)))
    namespaces = libsbml.XMLNamespaces()
    namespaces.add(NAMESPACE, "jumpax")
    return libsbml.XMLNode(libsbml.XMLTriple("kinetics", NAMESPACE, "jumpax"), attributes,
                           namespaces)


class _Writer:
    """Builds an SBML document from a network."""

    def __init__(self, network: ReactionNetwork, model_id: str):
        self.network = network
        self.document = libsbml.SBMLDocument(3, 2)
        self.model = self.document.createModel()
        self.taken = set(network.species)
        self.model.setId(_fresh(model_id, self.taken))
        for attribute in ("SubstanceUnits", "ExtentUnits"):
            getattr(self.model, f"set{attribute}")("item")
        self.model.setTimeUnits("second")
        compartment = self.model.createCompartment()
        self.compartment = _fresh("cell", self.taken)
        compartment.setId(self.compartment)
        compartment.setConstant(True)
        compartment.setSpatialDimensions(3)
        compartment.setSize(float(network.volume))

    def check(self, code: int, what: str) -> None:
        if code != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise ValueError(f"cannot write {what}: {libsbml.OperationReturnValue_toString(code)}")

    def math(self, owner, tree: Node, rename: Mapping[str, str], what: str) -> None:
        self.check(owner.setMath(expressions.to_ast(tree, rename)), what)

    def document_text(self) -> str:
        network = self.network
        x0 = network.default_x0 or (0.0,) * network.n_species
        for name, amount in zip(network.species, x0, strict=True):
            species = self.model.createSpecies()
            self.check(species.setId(name), f"species {name!r}")
            species.setCompartment(self.compartment)
            species.setInitialAmount(amount)
            species.setHasOnlySubstanceUnits(True)
            species.setBoundaryCondition(False)
            species.setConstant(False)
        ids = []
        for j, reaction in enumerate(network.reactions):
            valid = reaction.name is not None and libsbml.SyntaxChecker.isValidSBMLSId(
                reaction.name
            )
            ids.append(_fresh(reaction.name if valid else f"reaction_{j}", self.taken))
        for reaction, rid in zip(network.reactions, ids, strict=True):
            self.reaction(reaction, rid)
        for rule in network.rules:
            sbml_rule = self.model.createAssignmentRule()
            sbml_rule.setVariable(rule.species)
            what = f"the assignment rule for {rule.species!r}"
            self.global_math(sbml_rule, rule.expression, what)
        for k, event in enumerate(network.events):
            self.event(event, k)
        return libsbml.writeSBMLToString(self.document)

    def reaction(self, reaction: Reaction, rid: str) -> None:
        sbml = self.model.createReaction()
        sbml.setId(rid)
        if reaction.name is not None and reaction.name != rid:
            sbml.setName(reaction.name)
        sbml.setReversible(False)
        for side, create in ((reaction.reactants, sbml.createReactant),
                             (reaction.products, sbml.createProduct)):
            for name, coefficient in side:
                reference = create()
                reference.setSpecies(name)
                reference.setStoichiometry(coefficient)
                reference.setConstant(True)
        reactant_names = {name for name, _ in reaction.reactants}
        for name in reaction.kinetics.species_refs:
            if name not in reactant_names:
                sbml.createModifier().setSpecies(name)
        tree, values = _law(reaction.kinetics, reaction)
        law = sbml.createKineticLaw()
        local_ids = set(self.taken)
        rename = {_VOLUME: self.compartment}
        for name, value in values.items():
            parameter = law.createLocalParameter()
            rename[name] = _fresh(name, local_ids)
            parameter.setId(rename[name])
            parameter.setValue(value)
        self.math(law, tree, rename, f"the kinetic law of reaction {reaction.label!r}")
        if type(reaction.kinetics) in _LAWS:
            self.check(law.appendAnnotation(_annotation(reaction.kinetics)), "an annotation")

    def global_math(self, owner, function: object, what: str) -> None:
        """Writes a :class:`StateFunction`'s math, its parameters as new global parameters."""
        if not isinstance(function, StateFunction):
            raise ValueError(
                f"cannot write {what} as SBML: its expression is a {type(function).__name__}, "
                "not a jumpax.expressions.StateFunction"
            )
        rename = {}
        for name, value in function.expression.parameters.items():
            parameter = self.model.createParameter()
            rename[name] = _fresh(name, self.taken)
            parameter.setId(rename[name])
            parameter.setValue(float(value))
            parameter.setConstant(True)
        self.math(owner, function.expression.tree, rename, what)

    def event(self, event: TimeEvent | StateEvent, k: int) -> None:
        sbml = self.model.createEvent()
        sbml.setId(_fresh(f"event_{k}", self.taken))
        sbml.setUseValuesFromTriggerTime(True)
        trigger = sbml.createTrigger()
        trigger.setPersistent(True)
        what = f"event {sbml.getId()!r}"
        if isinstance(event, TimeEvent):
            trigger.setInitialValue(True)
            tree = ("geq", ("time",), ("const", float(event.time)))
            self.math(trigger, tree, {}, f"the trigger of {what}")
        else:
            trigger.setInitialValue(event.initial_value)
            self.global_math(trigger, event.trigger, f"the trigger of {what}")
        assignments = event.assignments
        for name, value in zip(assignments.species, assignments.values, strict=True):
            assignment = sbml.createEventAssignment()
            assignment.setVariable(name)
            self.global_math(assignment, value, f"{what}, the assignment to {name!r}")


def to_sbml(network: ReactionNetwork, model_id: str = "jumpax_model") -> str:
    """Writes a network as an SBML Level 3 Version 2 document.

    Species are written in amounts (``hasOnlySubstanceUnits=true``) in one compartment whose
    size is the network's volume, with the default initial state as initial amounts (0
    without one). Each kinetic law is MathML with the kinetics' parameters as local
    parameters; jumpax's built-in kinetics also get a ``jumpax:kinetics`` annotation so
    :func:`load_sbml` rebuilds the same classes and values. Rules and events are written when
    their expressions are :class:`~jumpax.expressions.StateFunction` objects (as in loaded
    models). Reaction names that are valid SBML ids become the ids, other names the SBML
    names.

    Example:
        >>> text = jx.to_sbml(jx.models.dimerisation())
        >>> again = jx.load_sbml(text)

    Args:
        network: the network (with concrete parameter values).
        model_id: the SBML model id.

    Returns:
        The SBML document as text.

    Raises:
        ValueError: for kinetics, rules or events that cannot be written as SBML math.
    """
    return _Writer(network, model_id).document_text()


# ==================================================================================== settings
@dataclasses.dataclass(frozen=True)
class SimulationSettings:
    """A simulation request in the SBML Test Suite's ``*-settings.txt`` format.

    Attributes:
        start: the start time.
        duration: the simulated duration.
        steps: the number of output intervals (``steps + 1`` output times).
        variables: the species to report.
        amount: the species to report as amounts.
        concentration: the species to report as concentrations.
    """

    start: float
    duration: float
    steps: int
    variables: tuple[str, ...]
    amount: tuple[str, ...]
    concentration: tuple[str, ...]

    @property
    def t0(self) -> float:
        """The start time."""
        return self.start

    @property
    def t1(self) -> float:
        """The end time."""
        return self.start + self.duration

    @property
    def save_at(self) -> np.ndarray:
        """The ``steps + 1`` equally spaced output times from :attr:`t0` to :attr:`t1`."""
        return np.linspace(self.t0, self.t1, self.steps + 1)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def load_settings(path: str | os.PathLike) -> SimulationSettings:
    """Reads an SBML Test Suite settings file (``start:``, ``duration:``, ``steps:``, ...).

    Args:
        path: the settings file.

    Raises:
        ValueError: for a line that is not ``key: value``, or missing or invalid
            ``start``, ``duration`` or ``steps``.
    """
    entries = {}
    for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{path}, line {number}: expected 'key: value', got {line!r}")
        entries[key.strip()] = value.strip()
    try:
        start, duration = float(entries["start"]), float(entries["duration"])
        steps = int(entries["steps"])
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: missing or invalid start, duration or steps ({error})") from None
    if not (math.isfinite(start) and duration > 0 and steps > 0):
        raise ValueError(f"{path}: need a finite start, duration > 0 and steps > 0")
    return SimulationSettings(
        start=start,
        duration=duration,
        steps=steps,
        variables=_names(entries.get("variables", "")),
        amount=_names(entries.get("amount", "")),
        concentration=_names(entries.get("concentration", "")),
    )


def find_settings(model_path: str | os.PathLike) -> SimulationSettings | None:
    """The settings file beside a model in the SBML Test Suite layout, if there is one.

    For ``00001-sbml-l3v2.xml`` that is ``00001-settings.txt`` in the same folder.

    Args:
        model_path: the SBML file.

    Returns:
        The settings, or ``None`` if there is no such file.
    """
    path = pathlib.Path(model_path)
    prefix = path.name.split("-sbml")[0] if "-sbml" in path.name else path.stem
    candidate = path.with_name(f"{prefix}-settings.txt")
    return load_settings(candidate) if candidate.is_file() else None


__all__ = [
    "ANNOTATED_KINETICS",
    "MAX_FILE_BYTES",
    "MAX_XML_DEPTH",
    "NAMESPACE",
    "SimulationSettings",
    "find_settings",
    "load_settings",
    "load_sbml",
    "to_sbml",
]
