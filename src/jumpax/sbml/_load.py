"""Reading SBML: :func:`load_sbml`, with the checks that make untrusted files safe to open.

Only regular files are read, at most :data:`MAX_FILE_BYTES` of them; XML nested deeper than
:data:`MAX_XML_DEPTH` elements and ``DOCTYPE``/entity declarations are refused by a streaming
pre-scan before libsbml parses anything, and chains of definitions longer than
:data:`MAX_CHAIN` before libsbml's consistency check; math is translated node by node within
the expression size limits (``_math.from_ast``), each rule or initial value after what it
reads, so that no chain recurses. The package docstring says what a loaded model means and
what is refused.
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
import stat
import xml.parsers.expat
from collections.abc import Callable, Container, Iterator, Mapping

import jax.numpy as jnp
import libsbml

from .._network._events import AssignmentRule, StateEvent, TimeEvent
from .._network._expressions import (
    Expression,
    ExpressionKinetics,
    Node,
    StateFunction,
    names,
    uses_time,
)
from .._network._network import MAX_COUNT, Reaction, ReactionNetwork
from ._annotations import annotated_kinetics, check_agreement
from ._math import from_ast

MAX_FILE_BYTES = 10_000_000
"""The largest SBML file :func:`load_sbml` reads."""

MAX_XML_DEPTH = 256
"""The deepest XML element nesting :func:`load_sbml` accepts."""

MAX_CHAIN = 32
"""The longest chain of definitions using one another that :func:`load_sbml` accepts:
function definitions calling function definitions, or assignment rules and initial assignments
reading symbols that other rules or initial assignments define."""

_ERROR = libsbml.LIBSBML_SEV_ERROR


def _read_file(path: pathlib.Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES` bytes.

    A FIFO would block the read forever and a device such as ``/dev/zero`` never ends, so
    anything but a regular file is refused: the file is opened without blocking and checked
    with ``fstat`` (the very file that is read, not whatever the path names a moment later),
    and at most one byte more than the limit is read (a file that grows after ``fstat`` is
    still caught).
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(
                f"{path}: not a regular file (a FIFO, device, socket or directory); "
                "load_sbml reads SBML files"
            )
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(
                f"{path}: the file has {info.st_size} bytes, more than the limit of "
                f"{MAX_FILE_BYTES}"
            )
        file = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{path}: the file has more than the limit of {MAX_FILE_BYTES} bytes")
    return data


def _read_text(source: str | os.PathLike | bytes) -> str:
    """The XML text of ``source``: a path, XML text, or XML bytes (size-checked)."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str) and source.lstrip().lstrip("\ufeff").startswith("<"):
        data = source.encode()
    elif isinstance(source, str) and not source.strip():
        raise ValueError("the SBML source is an empty string, neither a path nor SBML text")
    elif isinstance(source, str | os.PathLike):
        data = _read_file(pathlib.Path(source))
    else:
        raise TypeError(f"expected a path or SBML text, got {type(source).__name__}")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the SBML text has {len(data)} bytes, more than {MAX_FILE_BYTES}")
    try:
        return data.decode("utf-8-sig")  # a byte order mark (as some editors write) is dropped
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
    _refuse_what_conversion_drops(document.getModel())
    _refuse_long_chains(document.getModel())
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


def _chain(names: list[str]) -> str:
    """``a -> b -> c``, with the middle of a long chain left out."""
    shown = names if len(names) <= 8 else [*names[:3], "...", *names[-2:]]
    return " -> ".join(shown)


def _math_names(ast: libsbml.ASTNode | None, kind: int) -> list[str]:
    """The distinct names of a math tree's ``kind`` nodes, in order, found without recursion.

    ``kind`` is ``libsbml.AST_NAME`` for identifiers or ``libsbml.AST_FUNCTION`` for calls.
    """
    found: dict[str, None] = {}
    stack = [ast] if ast is not None else []
    while stack:
        node = stack.pop()
        if node.getType() == kind:
            found.setdefault(node.getName())
        stack.extend(node.getChild(i) for i in reversed(range(node.getNumChildren())))
    return list(found)


def _in_order(
    name: str, done: Container[str], reads: Callable[[str], list[str]], what: str
) -> list[str]:
    """``name`` and what it reads (transitively) that is not ``done``, each after what it reads.

    Computing symbols in this order, each finds what it reads already computed, so a chain of
    rules does not recurse once per link (deep enough, into a ``RecursionError``). The walk
    itself keeps its own stack.

    Raises:
        ValueError: for a cycle (``circular {what}: a -> b -> a``).
    """
    order: list[str] = []
    path, pending = [name], [iter(reads(name))]
    on_path, seen = {name}, {name}
    while path:
        for child in pending[-1]:
            if child in on_path:
                raise ValueError(f"circular {what}: {_chain([*path[path.index(child) :], child])}")
            if child not in done and child not in seen:
                seen.add(child)
                on_path.add(child)
                path.append(child)
                pending.append(iter(reads(child)))
                break
        else:
            on_path.discard(path[-1])
            order.append(path.pop())
            pending.pop()
    return order


def _longest_chain(uses: Mapping[str, list[str]]) -> list[str]:
    """The longest chain ``a -> b -> ...`` along ``uses``, found without recursion.

    Edges that would close a cycle are left out (the cycle is refused elsewhere).
    """
    length: dict[str, int] = {}
    following: dict[str, str | None] = {}
    for root in uses:
        if root in length:
            continue
        path, pending = [root], [iter(uses[root])]
        on_path = {root}
        while path:
            for child in pending[-1]:
                if child in uses and child not in length and child not in on_path:
                    on_path.add(child)
                    path.append(child)
                    pending.append(iter(uses[child]))
                    break
            else:
                node = path.pop()
                on_path.discard(node)
                pending.pop()
                done = [child for child in uses[node] if child in length]
                best = max(done, key=length.__getitem__, default=None)
                length[node] = 1 + (length[best] if best is not None else 0)
                following[node] = best
    chain = [max(length, key=length.__getitem__)] if length else []
    while chain and following[chain[-1]] is not None:
        chain.append(following[chain[-1]])
    return chain


def _refuse_long_chains(model: libsbml.Model) -> None:
    """Refuses chains of definitions longer than :data:`MAX_CHAIN` before libsbml checks them.

    libsbml's consistency check takes time growing with about the fourth power of the longest
    chain of function definitions calling one another, or of assignment rules and initial
    assignments reading what other ones define: seconds for 60 functions or 200 rules, minutes
    for a few hundred.

    Raises:
        ValueError: naming the chain.
    """
    calls = {
        f.getId(): _math_names(f.getMath(), libsbml.AST_FUNCTION)
        for f in model.getListOfFunctionDefinitions()
    }
    reads: dict[str, list[str]] = {}
    for definition in (*model.getListOfRules(), *model.getListOfInitialAssignments()):
        symbol = (
            definition.getSymbol()
            if isinstance(definition, libsbml.InitialAssignment)
            else definition.getVariable()
        )
        if symbol:
            reads.setdefault(symbol, []).extend(
                _math_names(definition.getMath(), libsbml.AST_NAME)
            )
    for uses, what in ((calls, "function definitions calling"),
                       (reads, "assignment rules and initial assignments using")):
        chain = _longest_chain(uses)
        if len(chain) > MAX_CHAIN:
            raise ValueError(
                f"{what} one another in a chain of {len(chain)} ({_chain(chain)}); at most "
                f"{MAX_CHAIN} are supported"
            )


def _refuse_what_conversion_drops(model: libsbml.Model) -> None:
    """Refuses, on the document as written, what the conversion to Level 3 Version 2 loses.

    Level 3 Version 2 has no ``fast`` attribute: converting a Level 1 or 2 model (or a Level 3
    Version 1 one) silently drops it, so a fast reaction would load as an ordinary one. Level 2
    ``stoichiometryMath`` becomes an assignment rule on a generated species reference id,
    which the loader would refuse under that made-up name.

    Raises:
        ValueError: naming the reaction, for a fast reaction or ``stoichiometryMath``.
    """
    for reaction in model.getListOfReactions():
        rid = reaction.getId()
        if reaction.isSetFast() and reaction.getFast():
            raise ValueError(f"reaction {rid!r} is fast; fast reactions are not supported")
        for reference in (*reaction.getListOfReactants(), *reaction.getListOfProducts()):
            if reference.isSetStoichiometryMath():
                raise ValueError(
                    f"reaction {rid!r}, species {reference.getSpecies()!r}: stoichiometryMath "
                    "is not supported (stoichiometries must be constant positive integers)"
                )


@contextlib.contextmanager
def _within(where: str) -> Iterator[None]:
    """Prefixes the message of a ``ValueError`` raised inside with ``where``."""
    try:
        yield
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _whole(value: float, what: str) -> float:
    """``value`` rounded to a whole number of molecules, refusing anything else.

    The count must also be finite in JAX's float type (``1e39`` molecules would become an
    infinite float32 count).
    """
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} is {value}; jumpax needs a non-negative molecule count")
    dtype = jnp.result_type(float)
    if value > float(jnp.finfo(dtype).max):
        raise ValueError(f"{what} is {value:g}, more than the largest {dtype} count")
    rounded = round(value)
    if abs(value - rounded) > 1e-6 * max(1.0, abs(value)):
        raise ValueError(f"{what} is {value}, not a whole number of molecules")
    return float(rounded)


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
            if compartment.isSetSize() and not 0 < compartment.getSize() < math.inf:
                raise ValueError(
                    f"compartment {sid!r} has size {compartment.getSize()}; sizes must be positive "
                    "and finite"
                )

    # ----------------------------------------------------------------------- symbols
    def translate(self, ast, resolve, where: str, allow_time: bool = False) -> Node:
        return from_ast(
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
        """The tree of ``variable``'s assignment rule, the rules it reads inlined."""
        if variable not in self.rule_trees:
            what = "assignment rules"
            for name in _in_order(variable, self.rule_trees, self.rule_reads, what):
                stack = self.enter(name, what)
                self.rule_trees[name] = self.translate(
                    self.rules[name], self.resolve, f"the assignment rule for {name!r}"
                )
                stack.pop()
        return self.rule_trees[variable]

    def rule_reads(self, variable: str) -> list[str]:
        """The variables with rules whose trees ``variable``'s tree inlines (:meth:`resolve`)."""
        found = []
        for name in _math_names(self.rules[variable], libsbml.AST_NAME):
            species = self.species.get(name)
            if name not in self.rules and species and not species.getHasOnlySubstanceUnits():
                found.append(species.getCompartment())  # a concentration: amount / size
            else:
                found.append(name)
        return [name for name in found if name in self.rules]

    def enter(self, name: str, what: str) -> list[str]:
        """Pushes ``name`` on the stack of ``what`` being computed, refusing cycles."""
        stack = self.pending.setdefault(what, [])
        if name in stack:
            raise ValueError(f"circular {what}: {_chain([*stack[stack.index(name) :], name])}")
        stack.append(name)
        return stack

    def initial_value(self, name: str) -> float:
        """The value of symbol ``name`` in math at the initial time."""
        if name not in self.initial:
            what = "initial values"
            for symbol in _in_order(name, self.initial, self.initial_reads, what):
                stack = self.enter(symbol, what)
                self.initial[symbol] = self._initial_value(symbol)
                stack.pop()
        return self.initial[name]

    def initial_reads(self, name: str) -> list[str]:
        """The symbols whose initial values :meth:`_initial_value` of ``name`` reads."""
        for source in (self.initial_assignments, self.rules):
            if name in source:
                symbols = (self.species, self.compartments, self.parameters)
                names = _math_names(source[name], libsbml.AST_NAME)
                return [n for n in names if any(n in symbol for symbol in symbols)]
        species = self.species.get(name)
        if species is not None and (
            not species.getHasOnlySubstanceUnits()
            or (not species.isSetInitialAmount() and species.isSetInitialConcentration())
        ):
            return [species.getCompartment()]
        return []

    def _initial_value(self, name: str) -> float:
        for source, what in ((self.initial_assignments, "initial assignment"),
                             (self.rules, "assignment rule")):
            if name in source:
                where = f"the {what} for {name!r}"
                tree = self.translate(source[name], self.resolve_initial, where)
                with _within(where):
                    value = float(Expression(tree).evaluate(jnp.zeros(0), {}))
                if not math.isfinite(value):
                    raise ValueError(f"{where} gives {value} at the initial time; values must "
                                     "be finite")
                return value
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
    def expression(
        self, tree: Node, where: str, local: Mapping[str, float] | None = None
    ) -> Expression:
        """The tree with its parameter values (local ones first, then global initial values).

        Raises:
            ValueError: naming ``where``, e.g. for a parameter whose value is not finite.
        """
        local = local or {}
        values = {
            name: local[name] if name in local else self.initial_value(name)
            for name in names(tree, "param")
        }
        with _within(where):
            return Expression(tree, values)

    def amount_tree(self, sid: str, tree: Node) -> Node:
        """Converts a value in ``sid``'s math units (amount or concentration) to an amount."""
        if self.species[sid].getHasOnlySubstanceUnits():
            return tree
        return ("times", tree, self.resolve(self.species[sid].getCompartment()))

    def state_function(self, sid: str, tree: Node, where: str) -> StateFunction:
        expression = self.expression(self.amount_tree(sid, tree), where)
        return StateFunction(expression, tuple(self.species))

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
            if not (math.isfinite(value) and value > 0 and value == round(value)):
                raise ValueError(f"{where}: stoichiometry {value} is not a positive integer")
            if value > MAX_COUNT:
                raise ValueError(
                    f"{where}: stoichiometry {value:.0f} is larger than the largest count "
                    f"jumpax represents ({MAX_COUNT})"
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
        reactions = [self.reaction(r, index, volume) for r in self.model.getListOfReactions()]
        if not reactions:
            raise ValueError("the SBML model has no reactions")
        rules = [
            AssignmentRule(
                sid,
                self.state_function(sid, self.rule_tree(sid), f"the assignment rule for {sid!r}"),
            )
            for sid in self.rules
            if sid in self.species
        ]
        events = [self.event(e, i) for i, e in enumerate(self.model.getListOfEvents())]
        return ReactionNetwork(
            reactions, species=species, volume=volume, x0=x0, rules=rules, events=events
        )

    def reaction(self, reaction, index: Mapping[str, int], volume: float) -> Reaction:
        rid = reaction.getId()
        if reaction.getReversible():
            raise ValueError(
                f"reaction {rid!r} is reversible; write the forward and backward directions "
                "as two irreversible reactions"
            )
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
                global_reads.update(names(node, "param"))
            return node

        tree = self.translate(law.getMath(), resolve, f"the kinetic law of reaction {rid!r}")
        clashes = sorted(global_reads & set(local))
        if clashes:
            raise ValueError(
                f"reaction {rid!r}: local parameters {clashes} shadow global ones that an "
                "assignment rule read by the kinetic law also uses; rename them"
            )
        where = f"the kinetic law of reaction {rid!r}"
        kinetics = ExpressionKinetics(self.expression(tree, where, local))
        name = reaction.getName() if reaction.isSetName() else rid
        annotated = annotated_kinetics(law, rid)
        if annotated is None:
            return Reaction(string, kinetics, name)
        result = Reaction(string, annotated, name)
        check_agreement(annotated, kinetics, result.reactants, index, volume, rid)
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
            what = f"{where}, the assignment to {variable!r}"
            tree = self.translate(assignment.getMath(), self.resolve, what)
            assignments.append((variable, self.state_function(variable, tree, what)))
        tree = self.translate(
            trigger.getMath(), self.resolve, f"the trigger of {where}", allow_time=True
        )
        initial_value = trigger.getInitialValue()
        if not uses_time(tree):
            condition = self.expression(tree, f"the trigger of {where}")
            if not condition.is_condition:
                raise ValueError(f"the trigger of {where} is not a condition: {condition}")
            with _within(where):
                return StateEvent(
                    StateFunction(condition, tuple(self.species)), assignments, initial_value
                )
        time = self.trigger_time(tree, where)
        if time <= 0 and not initial_value:
            raise ValueError(
                f"{where} fires at the initial time (time >= {time} with initialValue=false); "
                "jumpax time events fire only after t0"
            )
        with _within(where):
            return TimeEvent(time, assignments)

    def trigger_time(self, tree: Node, where: str) -> float:
        """``c`` of a trigger ``time >= c`` (or ``time > c``, ``c <= time``, ``c < time``)."""
        kind, operands = tree[0], tree[1:]
        flipped = {"leq": "geq", "lt": "gt"}
        if kind in flipped and len(operands) == 2:
            kind, operands = flipped[kind], operands[::-1]
        if kind in ("geq", "gt") and len(operands) == 2 and operands[0] == ("time",):
            bound = operands[1]
            if not uses_time(bound) and not names(bound, "species"):
                value = self.expression(bound, f"the trigger of {where}")
                return float(value.evaluate(jnp.zeros(0), {}))
        raise ValueError(
            f"the trigger of {where} mixes time with other conditions; jumpax supports "
            "'time >= value' triggers and triggers on the state alone"
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
        TypeError: for a source that is neither a path nor text nor bytes.
        ValueError: for a path that is not a regular file, malformed XML or invalid SBML (with
            libsbml's messages), oversized or too deeply nested input, chains of definitions
            longer than :data:`MAX_CHAIN`, undefined identifiers, and any unsupported element
            (the message names it).
    """
    document = _parse_document(_read_text(source))
    return _Loader(document.getModel()).network()


