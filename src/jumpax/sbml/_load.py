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

import collections
import contextlib
import math
import os
import pathlib
import stat
import xml.parsers.expat
from collections.abc import Callable, Container, Iterator, Mapping

import jax.numpy as jnp
import libsbml

from .._network._events import AssignmentRule, RateRule, StateEvent, TimeEvent
from .._network._expressions import (
    Expression,
    ExpressionKinetics,
    Node,
    StateFunction,
    names,
    uses_time,
)
from .._network._kinetics import MassAction
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


_IGNORED_ERRORS = frozenset({libsbml.DanglingUnitReference})
"""libsbml errors about what jumpax does not read: units (the math is taken as written, as
with the units consistency checks, which are switched off)."""


def _errors(document: libsbml.SBMLDocument) -> list[str]:
    """The error and fatal messages of libsbml, with line numbers."""
    found = []
    for i in range(document.getNumErrors()):
        error = document.getError(i)
        if error.getSeverity() >= _ERROR and error.getErrorId() not in _IGNORED_ERRORS:
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
    _flatten_submodels(document)
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


def _flatten_submodels(document: libsbml.SBMLDocument) -> None:
    """Replaces a hierarchical model (SBML package ``comp``) by its flat equivalent.

    libsbml's flattening converter instantiates every submodel, applies the replacements and
    deletions, and leaves one plain model, as the ``comp`` specification defines it.

    Raises:
        ValueError: with libsbml's messages, where the model cannot be flattened.
    """
    if document.getLevel() != 3 or not document.isPackageEnabled("comp"):
        return
    properties = libsbml.ConversionProperties()
    properties.addOption("flatten comp", True)
    if document.convert(properties) != libsbml.LIBSBML_OPERATION_SUCCESS:
        _raise_errors(document, "cannot flatten the hierarchical (comp) model")
        raise ValueError("cannot flatten the hierarchical (comp) model")


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
    Version 1 one) silently drops it, so a fast reaction would load as an ordinary one.
    (Level 2 ``stoichiometryMath`` survives: it becomes an assignment rule on a species
    reference.)

    Raises:
        ValueError: naming the reaction, for a fast reaction.
    """
    for reaction in model.getListOfReactions():
        if reaction.isSetFast() and reaction.getFast():
            raise ValueError(
                f"reaction {reaction.getId()!r} is fast; fast reactions are not supported"
            )


@contextlib.contextmanager
def _within(where: str) -> Iterator[None]:
    """Prefixes the message of a ``ValueError`` raised inside with ``where``."""
    try:
        yield
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _amount(value: float, what: str) -> float:
    """``value`` as an initial species amount: finite, non-negative and finite in JAX's float.

    A count need not be whole: the reaction-rate ODE follows amounts; the jump solvers refuse
    a fractional initial state when they are called.
    """
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} is {value}; amounts must be finite and non-negative")
    dtype = jnp.result_type(float)
    if value > float(jnp.finfo(dtype).max):
        raise ValueError(f"{what} is {value:g}, more than the largest {dtype} value")
    return float(value)


def _replaced(tree: Node, leaves: Mapping[Node, Node]) -> Node:
    """``tree`` with the leaves that are keys of ``leaves`` replaced by their values."""
    if tree in leaves:
        return leaves[tree]
    if tree[0] in ("const", "species", "param", "time"):
        return tree
    return (tree[0], *(_replaced(child, leaves) for child in tree[1:]))


def _net_rate_terms(tree: Node) -> tuple[Node, Node] | None:
    """``(forward, reverse)`` if the law is ``forward - reverse`` (times or over factors).

    ``k1 * A - k2 * B``, ``k1 * A + -1 * k2 * B``, ``V * (k1 * A - k2 * B)`` and
    ``(k1 * A - k2 * B) / V`` split; the factors multiply (or divide) both terms.
    """
    kind = tree[0]
    if kind == "minus" and len(tree) == 3:
        return tree[1], tree[2]
    if kind == "plus":
        forward, reverse = [], []
        for term in tree[1:]:
            negated = _negated(term)
            (forward if negated is None else reverse).append(term if negated is None else negated)
        if forward and reverse:
            return tuple(terms[0] if len(terms) == 1 else ("plus", *terms)
                         for terms in (forward, reverse))
    if kind == "times":
        splits = [i for i, child in enumerate(tree[1:], 1) if _net_rate_terms(child)]
        if len(splits) == 1:
            forward, reverse = _net_rate_terms(tree[splits[0]])
            around = tree[1 : splits[0]], tree[splits[0] + 1 :]
            return (("times", *around[0], forward, *around[1]),
                    ("times", *around[0], reverse, *around[1]))
    if kind == "divide":
        terms = _net_rate_terms(tree[1])
        if terms:
            return ("divide", terms[0], tree[2]), ("divide", terms[1], tree[2])
    return None


def _monomial(tree: Node) -> tuple[list[str], list[Node], list[Node]] | None:
    """``(species, numerator, denominator)`` of a law that is a product of leaves, else None.

    ``species`` lists the species leaves of the numerator (with repeats); ``numerator`` and
    ``denominator`` the constant and parameter leaves on each side of the fraction. A species
    in a denominator, or any other operation (a sum, a power, a function), gives ``None``.
    """
    kind = tree[0]
    if kind == "species":
        return [tree[1]], [], []
    if kind in ("const", "param"):
        return [], [tree], []
    if kind == "times":
        parts = [_monomial(child) for child in tree[1:]]
        if any(part is None for part in parts):
            return None
        return tuple([leaf for part in parts for leaf in part[j]] for j in range(3))
    if kind == "divide":
        top, bottom = _monomial(tree[1]), _monomial(tree[2])
        if top is None or bottom is None or bottom[0]:
            return None
        return top[0], top[1] + bottom[2], top[2] + bottom[1]
    return None


def _negated(term: Node) -> Node | None:
    """``-term`` if the term is visibly negative (``-a``, ``-1 * a``, ``a * -2``), else ``None``.

    A product is negated through its first visibly negative factor (nested products too).
    """
    if term[0] == "minus" and len(term) == 2:
        return term[1]
    if term[0] == "const" and term[1] < 0:
        return ("const", -term[1])
    if term[0] == "times":
        for i, factor in enumerate(term[1:], 1):
            negated = _negated(factor)
            if negated is not None:
                return ("times", *term[1:i], negated, *term[i + 1 :])
    return None


def _fresh_name(base: str, taken: Container[str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... whichever is not taken."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


class _Loader:
    """Translates one libsbml model into a :class:`ReactionNetwork`.

    The state holds every species (amounts) and, as network *variables*, the parameters and
    compartments that rate rules or events change, and a clock (named ``clock``) when the math
    reads the time anywhere but in a trigger ``time >= c``.
    """

    def __init__(self, model: libsbml.Model, molecules_per_amount: float | None = None):
        self.model = model
        self.molecules = molecules_per_amount
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
            a.getSymbol(): a.getMath()
            for a in model.getListOfInitialAssignments()
            if a.isSetMath()  # without math (allowed from Level 3 Version 2) it sets nothing
        }
        self.rules: dict[str, libsbml.ASTNode] = {}
        self.rate_rules: dict[str, libsbml.ASTNode] = {}
        for rule in model.getListOfRules():
            if not rule.isSetMath():
                continue  # a rule without math (Level 3 Version 2) sets nothing
            if rule.isAlgebraic():
                raise ValueError(
                    "algebraic rules are not supported (jumpax integrates explicit rate and "
                    "assignment rules only)"
                )
            target = self.rules if rule.isAssignment() else self.rate_rules
            target[rule.getVariable()] = rule.getMath()
        self.others = {r.getId(): "a reaction" for r in model.getListOfReactions()}
        self.references = {
            reference.getId(): reference
            for reaction in model.getListOfReactions()
            for reference in (*reaction.getListOfReactants(), *reaction.getListOfProducts())
            if reference.isSetId()
        }
        assigned = {
            a.getVariable()
            for event in model.getListOfEvents()
            for a in event.getListOfEventAssignments()
        }
        self.variables = tuple(
            name
            for name in (*self.compartments, *self.parameters, *self.references)
            if name in self.rate_rules or name in assigned
        )
        taken = {*self.species, *self.compartments, *self.parameters, *self.others,
                 *self.references}
        self.clock = _fresh_name("clock", taken | set(self.functions))
        self.uses_clock = False
        self.rule_trees: dict[str, Node] = {}
        self.rate_trees: dict[str, Node] = {}
        self.initial: dict[str, float] = {}
        self.pending: dict[str, list[str]] = {}
        self._refuse_unsupported()

    def _refuse_unsupported(self) -> None:
        model = self.model
        if any(constraint.isSetMath() for constraint in model.getListOfConstraints()):
            raise ValueError("constraints are not supported (jumpax does not check them)")
        for variable in (*self.rules, *self.rate_rules, *self.initial_assignments):
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
    def translate(self, ast, resolve, where: str) -> Node:
        """The math as a tree; ``("time",)`` leaves stand for the time."""
        return from_ast(
            ast, resolve, where=where, functions=self.functions, allow_time=True,
            rate_of=self.rate_of,
        )

    def rate_of(self, name: str) -> Node:
        """The rate of change of symbol ``name`` in its own units (SBML's ``rateOf``).

        A rate rule's rate; for a species, the sum of its reactions' rates times their
        stoichiometries (over its compartment's size, for a concentration); 0 for what only
        events change.

        Raises:
            ValueError: for a symbol set by an assignment rule, or a concentration in a
                compartment whose size changes continuously.
        """
        stack = self.enter(name, "rates of change")
        if name in self.rate_rules:
            where = f"the rate rule for {name!r}"
            tree = self.translate(self.rate_rules[name], self.resolve, where)
        elif name in self.rules:
            raise ValueError(
                f"rateOf({name}): {name!r} is set by an assignment rule, whose rate of change "
                "jumpax does not derive"
            )
        elif name in self.species:
            terms = []
            for reaction in self.model.getListOfReactions():
                rid = reaction.getId()
                for sign, references in ((-1.0, reaction.getListOfReactants()),
                                         (1.0, reaction.getListOfProducts())):
                    for sid, change in self.stoichiometries(references, rid):
                        if sid == name:
                            rate = self.reaction_rate(rid, self.resolve)
                            terms.append(("times", ("const", sign), change, rate))
            tree = ("plus", *terms) if terms else ("const", 0.0)
            if not self.in_amounts(name):
                compartment = self.species[name].getCompartment()
                if compartment in self.rate_rules:
                    raise ValueError(
                        f"rateOf({name}): a concentration in compartment {compartment!r}, "
                        "whose size has a rate rule, is not supported"
                    )
                tree = ("divide", tree, self.resolve(compartment))
        else:
            tree = ("const", 0.0)
        stack.pop()
        return tree

    def clocked(self, tree: Node) -> Node:
        """``tree`` reading the clock variable for the time (which the state then holds)."""
        if not uses_time(tree):
            return tree
        self.uses_clock = True
        return _replaced(tree, {("time",): ("species", self.clock)})

    def reaction_rate(self, rid: str, resolve: Callable[[str], Node | None]) -> Node:
        """The rate of reaction ``rid`` (its kinetic law), which its id means in math.

        Local parameters are inlined as constants; ``resolve`` gives the other symbols.
        """
        law = self.model.getReaction(rid).getKineticLaw()
        if law is None or not law.isSetMath():
            raise ValueError(f"reaction {rid!r} is used in math but has no kinetic law")
        local = {
            p.getId(): ("const", float(p.getValue()))
            for p in law.getListOfLocalParameters()
            if p.isSetValue()
        }
        stack = self.enter(rid, "reaction rates")
        tree = self.translate(
            law.getMath(), lambda name: local.get(name) or resolve(name),
            f"the kinetic law of reaction {rid!r}",
        )
        stack.pop()
        return tree

    def defined(self, name: str) -> bool:
        """Whether a compartment or parameter has a value (else nothing may read it)."""
        if name in self.rules or name in self.initial_assignments:
            return True
        if name in self.compartments:
            return self.compartments[name].isSetSize()
        return self.parameters[name].isSetValue()

    def resolve(self, name: str) -> Node | None:
        """The tree standing for ``name`` in math during the simulation."""
        if name in self.rules:
            return self.rule_tree(name)
        if name in self.species:
            amount = ("species", name)
            if self.molecules is not None:
                amount = ("divide", amount, ("const", self.molecules))
            if self.in_amounts(name):
                return amount
            return ("divide", amount, self.resolve(self.species[name].getCompartment()))
        if name in self.variables:
            return ("species", name)
        if name in self.compartments or name in self.parameters or name in self.references:
            self.initial_value(name)  # refuses a symbol without a value
            return ("param", name)
        if name in self.others:
            if name not in self.rate_trees:
                self.rate_trees[name] = self.reaction_rate(name, self.resolve)
            return self.rate_trees[name]
        return None

    def in_amounts(self, sid: str) -> bool:
        """Whether species ``sid``'s symbol means its amount rather than its concentration.

        Its amount where ``hasOnlySubstanceUnits`` is set, and in a compartment of dimension 0
        (which has no size to divide by).
        """
        species = self.species[sid]
        compartment = self.compartments.get(species.getCompartment())
        dimensionless = compartment is not None and compartment.getSpatialDimensions() == 0
        return species.getHasOnlySubstanceUnits() or dimensionless

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
            if name not in self.rules and species and not self.in_amounts(name):
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
                symbols = (self.species, self.compartments, self.parameters, self.references)
                names = _math_names(source[name], libsbml.AST_NAME)
                return [n for n in names if any(n in symbol for symbol in symbols)]
        species = self.species.get(name)
        if species is not None and (
            not self.in_amounts(name)
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
                    # what rateOf brought in reads the state: its values at the start
                    leaves = {("time",): ("const", 0.0)}
                    leaves.update({("param", p): ("const", float(self.initial_value(p)))
                                   for p in names(tree, "param")})
                    leaves.update({("species", v): ("const", self.initial_state(v))
                                   for v in names(tree, "species")})
                    value = float(Expression(_replaced(tree, leaves)).evaluate(jnp.zeros(0), {}))
                if not math.isfinite(value):
                    raise ValueError(f"{where} gives {value} at the initial time; values must "
                                     "be finite")
                return value
        if name in self.species:
            amount = self.initial_amount(name)
            if self.in_amounts(name):
                return amount
            return amount / self.initial_value(self.species[name].getCompartment())
        if name in self.compartments:
            if not self.compartments[name].isSetSize():
                raise ValueError(f"compartment {name!r} has no size")
            return self.compartments[name].getSize()
        if name in self.references:
            if not self.references[name].isSetStoichiometry():
                raise ValueError(f"species reference {name!r} has no stoichiometry")
            return self.references[name].getStoichiometry()
        parameter = self.parameters[name]
        if not parameter.isSetValue():
            raise ValueError(f"parameter {name!r} has no value")
        return parameter.getValue()

    def initial_state(self, name: str) -> float:
        """The initial value of state entry ``name``.

        A species' amount in the state's units, a variable's value, the clock's 0.
        """
        if name in self.species:
            return self.initial_amount(name) * (self.molecules or 1.0)
        return 0.0 if name == self.clock else float(self.initial_value(name))

    def resolve_initial(self, name: str) -> Node | None:
        symbols = (self.species, self.compartments, self.parameters, self.references)
        if any(name in symbol for symbol in symbols):
            return ("const", float(self.initial_value(name)))
        if name in self.others:
            return self.reaction_rate(name, self.resolve_initial)
        return None

    def initial_amount(self, sid: str) -> float:
        """A species' initial amount."""
        species = self.species[sid]
        if sid in self.initial_assignments or sid in self.rules:
            value = self.initial_value(sid)
            if self.in_amounts(sid):
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
        tree = self.clocked(tree)
        local = local or {}
        values = {
            name: local[name] if name in local else self.initial_value(name)
            for name in names(tree, "param")
        }
        with _within(where):
            return Expression(tree, values)

    def report(self, name: str) -> Expression:
        """The value of a compartment, parameter or reaction rate, as an observable.

        Parameter values are written in as constants (an infinite one too: nothing simulated
        reads a report): observables report, they are not trained.
        """
        tree = self.clocked(self.resolve(name))
        constants = {("param", p): ("const", float(self.initial_value(p)))
                     for p in names(tree, "param")}
        with _within(f"the value of {name!r}"):
            return Expression(_replaced(tree, constants))

    def amount_tree(self, name: str, tree: Node) -> Node:
        """Converts a value in ``name``'s math units to what the state holds.

        A species in concentration units holds its amount: the value times the size.
        """
        species = self.species.get(name)
        if species is None:
            return tree
        if not self.in_amounts(name):
            tree = ("times", tree, self.resolve(species.getCompartment()))
        return self.in_molecules(tree)

    def in_molecules(self, tree: Node) -> Node:
        """An amount (or a rate in amounts) as molecules, with ``molecules_per_amount``."""
        if self.molecules is None:
            return tree
        return ("times", tree, ("const", self.molecules))

    def rate_tree(self, name: str, tree: Node) -> Node:
        """Converts a rate rule's rate of ``name`` (in its math units) to the state's rate.

        For a species in concentration units, ``d(amount)/dt = d[S]/dt * V + [S] * dV/dt``,
        the second term where its compartment has a rate rule itself.
        """
        species = self.species.get(name)
        if species is None:
            return tree
        if self.in_amounts(name):
            return self.in_molecules(tree)
        compartment = species.getCompartment()
        rate = ("times", tree, self.resolve(compartment))
        if compartment in self.rate_rules:
            growth = self.translate(
                self.rate_rules[compartment], self.resolve,
                f"the rate rule for {compartment!r}",
            )
            rate = ("plus", rate, ("times", self.resolve(name), growth))
        return self.in_molecules(rate)

    def stoichiometries(self, references, reaction_id: str) -> list[tuple[str, Node]]:
        """``(species, tree)`` for each species the references change.

        The tree is the stoichiometry as math (a constant, or what a rule or event makes it),
        times the species' conversion factor.
        """
        terms = []
        for reference in references:
            sid = reference.getSpecies()
            species = self.species[sid]
            if species.getBoundaryCondition() or species.getConstant():
                continue
            where = f"reaction {reaction_id!r}, species {sid!r}"
            rid = reference.getId() if reference.isSetId() else None
            if rid is not None and (rid in self.rules or rid in self.variables
                                    or rid in self.initial_assignments):
                tree = self.resolve(rid)
            elif not reference.isSetStoichiometry():
                raise ValueError(f"{where}: the stoichiometry is not set")
            else:
                value = float(reference.getStoichiometry())
                if not math.isfinite(value):
                    raise ValueError(f"{where}: stoichiometry {value} is not finite")
                tree = ("const", value)
            factor = (
                species.getConversionFactor() if species.isSetConversionFactor()
                else self.model.getConversionFactor() if self.model.isSetConversionFactor()
                else None
            )
            if factor:
                tree = ("times", tree, self.resolve(factor))
            terms.append((sid, tree))
        return terms

    def whole_number(self, tree: Node, where: str) -> int | None:
        """The tree's value if it is a constant positive whole number, else ``None``."""
        if names(tree, "species") or uses_time(tree):
            return None
        if tree[0] == "const":
            value = tree[1]  # exactly: the float type of JAX may round a large count
        else:
            value = float(self.expression(tree, where).evaluate(jnp.zeros(0), {}))
        if not (math.isfinite(value) and value > 0 and value == round(value)):
            return None
        if value > MAX_COUNT:
            raise ValueError(
                f"{where}: stoichiometry {value:.0f} is larger than the largest count "
                f"jumpax represents ({MAX_COUNT})"
            )
        return int(value)

    # ----------------------------------------------------------------------- the network
    def network(self) -> ReactionNetwork:
        x0 = {
            sid: _amount(self.initial_amount(sid), f"the initial amount of species {sid!r}")
            for sid in self.species
        }
        if self.molecules is not None:
            x0 = {sid: float(round(amount * self.molecules)) for sid, amount in x0.items()}
        x0.update({name: float(self.initial_value(name)) for name in self.variables})
        sizes = [c.getSize() for c in self.compartments.values() if c.isSetSize()]
        volume = sizes[0] if len(self.compartments) == 1 and sizes else 1.0
        index = {sid: i for i, sid in enumerate(self.species)}
        reactions = [
            reaction
            for r in self.model.getListOfReactions()
            for reaction in self.reactions(r, index, volume)
        ]
        rules = [
            (AssignmentRule, sid, self.expression(
                self.amount_tree(sid, self.rule_tree(sid)), f"the assignment rule for {sid!r}"
            ))
            for sid in self.rules
            if sid in self.species
        ]
        for name, ast in self.rate_rules.items():
            where = f"the rate rule for {name!r}"
            if name in self.species and self.species[name].getConstant():
                raise ValueError(f"{where}: species {name!r} is constant")
            tree = self.rate_tree(name, self.translate(ast, self.resolve, where))
            rules.append((RateRule, name, self.expression(tree, where)))
        events = [self.event(e, i) for i, e in enumerate(self.model.getListOfEvents())]
        events = [build for build in events if build is not None]
        observables = {
            name: self.report(name)
            for name in (*self.compartments, *self.parameters, *self.others)
            if name not in self.variables and (name in self.others or self.defined(name))
        }
        state = (*self.species, *self.variables)
        variables = self.variables
        if self.uses_clock or not state:  # a state of nothing but the clock: a time course
            state, variables = (*state, self.clock), (*variables, self.clock)
            x0[self.clock] = 0.0
            rules.append((RateRule, self.clock, Expression(("const", 1.0))))
        return ReactionNetwork(
            reactions,
            species=state,
            volume=volume,
            x0=x0,
            rules=[kind(name, StateFunction(e, state)) for kind, name, e in rules],
            events=[build(state) for build in events],
            variables=variables,
            clock=self.clock if self.clock in state else None,
            observables=observables,
        )

    def reactions(self, reaction, index: Mapping[str, int], volume: float) -> list[Reaction]:
        """The reaction, as jumpax reactions.

        A reversible reaction whose law is ``forward - reverse`` becomes its forward and
        reverse directions; one whose law does not split, a net-rate reaction
        (``reversible=True``). A reaction whose changes of the state are not constant whole
        numbers (stoichiometries set by rules or events, fractional ones, conversion factors)
        becomes one net-rate reaction ``0 -> S`` per species, at the rate of change it causes.
        """
        rid = reaction.getId()
        law = reaction.getKineticLaw()
        if law is None or not law.isSetMath():
            raise ValueError(f"reaction {rid!r} has no kinetic law")
        sides = [
            self.stoichiometries(reaction.getListOfReactants(), rid),
            self.stoichiometries(reaction.getListOfProducts(), rid),
        ]
        counts = [
            [(sid, self.whole_number(tree, f"reaction {rid!r}, species {sid!r}"))
             for sid, tree in side]
            for side in sides
        ]
        reactants, products = (
            " + ".join(sid if n == 1 else f"{n} {sid}" for sid, n in side) or "0"
            for side in counts
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
        tree = self.in_molecules(tree)
        clashes = sorted(global_reads & set(local))
        if clashes:
            raise ValueError(
                f"reaction {rid!r}: local parameters {clashes} shadow global ones that an "
                "assignment rule read by the kinetic law also uses; rename them"
            )
        where = f"the kinetic law of reaction {rid!r}"
        name = reaction.getName() if reaction.isSetName() else rid

        def kinetics(
            law_tree: Node, what: str, side: list[tuple[str, int]] | None = None
        ) -> ExpressionKinetics | MassAction:
            if side is not None:
                mass_action = self.mass_action(law_tree, side, local, volume)
                if mass_action is not None:
                    return mass_action
            return ExpressionKinetics(self.expression(law_tree, what, local))

        if any(n is None for side in counts for _, n in side):
            # Changes of the state that are not whole numbers of molecules (a variable or
            # fractional stoichiometry, a conversion factor): one net-rate flux per species.
            signed = [(sid, ("minus", change)) for sid, change in sides[0]] + sides[1]
            # A stoichiometry reads global parameters, which local ones of the same name would
            # shadow in the flux's expression: those enter as their values.
            shadowed = {
                ("param", p): ("const", float(self.initial_value(p)))
                for _, change in signed for p in names(change, "param") if p in local
            }
            signed = [(sid, _replaced(change, shadowed)) for sid, change in signed]
            return [
                Reaction(f"0 -> {sid}", kinetics(("times", change, tree), f"{where} ({sid})"),
                         f"{name} ({sid})", reversible=True)
                for sid, change in signed
            ]
        if reaction.getReversible():
            terms = _net_rate_terms(tree)
            if terms is None:
                return [
                    Reaction(f"{reactants} -> {products}", kinetics(tree, where), name,
                             reversible=True)
                ]
            return [
                Reaction(f"{reactants} -> {products}",
                         kinetics(terms[0], f"{where} (forward)", counts[0]),
                         f"{name} (forward)"),
                Reaction(f"{products} -> {reactants}",
                         kinetics(terms[1], f"{where} (reverse)", counts[1]),
                         f"{name} (reverse)"),
            ]
        string = f"{reactants} -> {products}"
        annotated = None if self.molecules is not None else annotated_kinetics(law, rid)
        if annotated is None:
            return [Reaction(string, kinetics(tree, where, counts[0]), name)]
        result = Reaction(string, annotated, name)
        plain = ExpressionKinetics(self.expression(tree, where, local))
        check_agreement(annotated, plain, result.reactants, index, volume, rid)
        return [result]

    def mass_action(
        self,
        tree: Node,
        reactants: list[tuple[str, int]],
        local: Mapping[str, float],
        volume: float,
    ) -> MassAction | None:
        """The law as :class:`~jumpax.MassAction`, if it is one exactly, else ``None``.

        A law ``c S1 S2 ...`` (in molecules) whose species are the reactants, each once with
        coefficient 1, and whose ``c`` is a positive product and quotient of constants and
        parameters, is mass action with rate constant ``c V^(m-1)``: the same propensity in
        every state, now with sparse updates in large networks. (``c S S`` for ``2 S`` is not:
        mass action is ``c S (S - 1)``.) When ``c`` reads one parameter in its numerator, the
        rate keeps it as its :attr:`~jumpax.MassAction.source`, so the rate is still fitted
        by that parameter's id (compartment sizes are not counted); with more than one, or
        one dividing, the law stays general.
        """
        parts = _monomial(tree)
        if parts is None:
            return None
        species, numerator, denominator = parts
        # Each reactant once, in the law and on the reactant side (a species may be listed
        # by several references): S S for S + S is not mass action.
        coefficients = collections.Counter()
        for sid, n in reactants:
            coefficients[sid] += n
        if any(n != 1 for n in coefficients.values()) or collections.Counter(species) != (
            coefficients
        ):
            return None

        def value(leaf: Node) -> float:
            if leaf[0] == "const":
                return float(leaf[1])
            return float(local[leaf[1]] if leaf[1] in local else self.initial_value(leaf[1]))

        c = math.prod(value(leaf) for leaf in numerator) / math.prod(
            value(leaf) for leaf in denominator
        )
        k = c * volume ** (len(species) - 1)
        if not (math.isfinite(k) and k > 0):
            return None

        def fitted(leaves: list[Node]) -> list[str]:
            """The parameters (not compartment sizes) among the leaves."""
            return [
                leaf[1] for leaf in leaves
                if leaf[0] == "param" and (leaf[1] in local or leaf[1] not in self.compartments)
            ]

        read = fitted(numerator)
        if len(read) > 1 or fitted(denominator):
            return None
        source = (read[0], k / value(("param", read[0]))) if read else None
        if source is not None and not (math.isfinite(source[1]) and source[1] > 0):
            return None
        return MassAction(k, source=source)

    def event(
        self, event, position: int
    ) -> Callable[[tuple[str, ...]], TimeEvent | StateEvent] | None:
        """The event, built once the state's names are known; ``None`` if it assigns nothing."""
        eid = event.getId() if event.isSetId() else f"#{position + 1}"
        where = f"event {eid!r}"
        timing = {}
        for kind, element in (("delay", event.getDelay()), ("priority", event.getPriority())):
            if element is not None and element.isSetMath():
                what = f"the {kind} of {where}"
                timing[kind] = self.expression(
                    self.translate(element.getMath(), self.resolve, what), what
                )
        trigger = event.getTrigger()
        if trigger is None or not trigger.isSetMath():
            return None  # without a trigger (Level 3 Version 2) it never fires
        values_at_trigger = (
            event.getUseValuesFromTriggerTime() if event.isSetUseValuesFromTriggerTime() else True
        )
        assignments = []
        for assignment in event.getListOfEventAssignments():
            if not assignment.isSetMath():
                continue  # without math (Level 3 Version 2) it assigns nothing
            variable = assignment.getVariable()
            species = self.species.get(variable)
            if variable not in self.variables and (species is None or species.getConstant()):
                raise ValueError(
                    f"{where} assigns {variable!r}, which is neither a variable species nor a "
                    "parameter or compartment"
                )
            compartment = species.getCompartment() if species is not None else None
            if ("delay" in timing and values_at_trigger and compartment is not None
                    and (compartment in self.variables or compartment in self.rules)
                    and not self.in_amounts(variable)):
                # The value is held from the trigger, its conversion to an amount needs the
                # size at execution: no held scalar carries that.
                raise ValueError(
                    f"{where}: a delayed assignment with values from the trigger time to the "
                    f"concentration of {variable!r}, whose compartment {compartment!r} changes "
                    "size, is not supported"
                )
            what = f"{where}, the assignment to {variable!r}"
            tree = self.translate(assignment.getMath(), self.resolve, what)
            assignments.append((variable, self.expression(self.amount_tree(variable, tree), what)))
        if not assignments:
            return None  # its assignments have no math: firing changes nothing
        tree = self.translate(trigger.getMath(), self.resolve, f"the trigger of {where}")
        initial_value = trigger.getInitialValue()
        persistent = trigger.getPersistent() if trigger.isSetPersistent() else True
        scheduled = bool(timing) or not persistent
        time = self.trigger_time(tree, where)
        if time is not None and not scheduled and (time > 0 or initial_value):
            return lambda state: _within_event(
                where, lambda: TimeEvent(time, _functions(assignments, state))
            )
        condition = self.expression(tree, f"the trigger of {where}")
        if not condition.is_condition:
            raise ValueError(f"the trigger of {where} is not a condition: {condition}")
        return lambda state: _within_event(
            where,
            lambda: StateEvent(
                StateFunction(condition, state),
                _functions(assignments, state),
                initial_value,
                persistent=persistent,
                values_at_trigger=values_at_trigger,
                **{kind: StateFunction(e, state) for kind, e in timing.items()},
            ),
        )

    def trigger_time(self, tree: Node, where: str) -> float | None:
        """``c`` of a trigger ``time >= c`` with a constant ``c``, else ``None``.

        ``time > c``, ``c <= time`` and ``c < time`` count too.
        """
        kind, operands = tree[0], tree[1:]
        flipped = {"leq": "geq", "lt": "gt"}
        if kind in flipped and len(operands) == 2:
            kind, operands = flipped[kind], operands[::-1]
        if kind in ("geq", "gt") and len(operands) == 2 and operands[0] == ("time",):
            bound = operands[1]
            if not uses_time(bound) and not names(bound, "species"):
                value = self.expression(bound, f"the trigger of {where}")
                return float(value.evaluate(jnp.zeros(0), {}))
        return None


def _functions(
    assignments: list[tuple[str, Expression]], state: tuple[str, ...]
) -> list[tuple[str, StateFunction]]:
    return [(name, StateFunction(e, state)) for name, e in assignments]


def _within_event(where: str, build: Callable[[], TimeEvent | StateEvent]):
    with _within(where):
        return build()


def load_sbml(
    source: str | os.PathLike | bytes, *, molecules_per_amount: float | None = None
) -> ReactionNetwork:
    """Loads an SBML model as a simulable :class:`~jumpax.ReactionNetwork`.

    See the module docstring for the semantics and what is refused.

    **Amounts and molecules.** By default the state holds the model's amounts as written:
    molecule counts for a model written in molecules (the DSMTS convention), and amounts in
    the model's substance units otherwise (moles, say), which the reaction-rate ODE follows
    exactly but which are no counts for the jump solvers. ``molecules_per_amount=N`` converts
    explicitly: the state holds ``N`` times each amount, rounded to whole molecules at the
    start, every rate law is multiplied by ``N`` (events per unit time) and reads amounts as
    ``count / N``; events and rules on species set ``N`` times their value. For a model in
    moles in a cell of volume ``V`` litres, ``N`` is Avogadro's number (or ``N`` = a system
    size ``Omega`` for the large-volume limit).

    Example:
        >>> m = jx.load_sbml("model.xml")
        >>> res = jx.simulate(key, m, m.x0, 50.0, save_at=jnp.arange(51.0),
        ...                   num_trajectories=1000)
        >>> counts = jx.load_sbml("moles.xml", molecules_per_amount=1e6)

    Args:
        source: a file path, or the SBML text itself (a string starting with ``<``, or
            bytes).
        molecules_per_amount: ``None`` (amounts as written), or the number of molecules per
            unit amount, positive and finite.

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
    if molecules_per_amount is not None and not (
        isinstance(molecules_per_amount, int | float) and 0 < molecules_per_amount < math.inf
    ):
        raise ValueError(
            f"molecules_per_amount must be a positive finite number, got {molecules_per_amount!r}"
        )
    document = _parse_document(_read_text(source))
    molecules = None if molecules_per_amount is None else float(molecules_per_amount)
    return _Loader(document.getModel(), molecules).network()


