"""Writing SBML: :func:`to_sbml`.

Each kinetic law is written as MathML, from its kinetics'
:meth:`~jumpax.AbstractKinetics.rate_law` (readable by any SBML tool), and for jumpax's
built-in kinetics classes also as a ``jumpax:kinetics`` annotation, so a network built in
Python round-trips to the same kinetics classes and parameter values.
"""

from __future__ import annotations

from collections.abc import Mapping

import libsbml

from .._network._events import AssignmentRule, StateEvent, TimeEvent
from .._network._expressions import Expression, Node, StateFunction
from .._network._network import Reaction, ReactionNetwork
from ._annotations import ANNOTATED_KINETICS, annotation
from ._math import to_ast


def _fresh(base: str, taken: set[str]) -> str:
    """``base``, or ``base_1``, ``base_2``, ... whichever is not taken (and takes it)."""
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


class _Writer:
    """Builds an SBML document from a network."""

    def __init__(self, network: ReactionNetwork, model_id: str):
        self.network = network
        self.document = libsbml.SBMLDocument(3, 2)
        self.model = self.document.createModel()
        self.taken = set(network.species) | set(network.observable_names)
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
        self.check(owner.setMath(to_ast(tree, rename)), what)

    def document_text(self) -> str:
        network = self.network
        x0 = network.default_x0 or (0.0,) * network.n_species
        for name, amount in zip(network.species, x0, strict=True):
            if name in network.variables:
                variable = self.model.createParameter()
                self.check(variable.setId(name), f"variable {name!r}")
                variable.setValue(amount)
                variable.setConstant(False)
                continue
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
            if isinstance(rule, AssignmentRule):
                sbml_rule, kind = self.model.createAssignmentRule(), "assignment"
            else:
                sbml_rule, kind = self.model.createRateRule(), "rate"
            sbml_rule.setVariable(rule.species)
            what = f"the {kind} rule for {rule.species!r}"
            self.global_math(sbml_rule, rule.expression, what)
        for name, function in zip(network.observable_names, network.observables, strict=True):
            observable = self.model.createParameter()
            self.check(observable.setId(name), f"observable {name!r}")
            observable.setConstant(False)
            rule = self.model.createAssignmentRule()
            rule.setVariable(name)
            if isinstance(function, Expression):
                function = StateFunction(function, network.species)
            self.global_math(rule, function, f"the observable {name!r}")
        for k, event in enumerate(network.events):
            self.event(event, k)
        return libsbml.writeSBMLToString(self.document)

    def reaction(self, reaction: Reaction, rid: str) -> None:
        sbml = self.model.createReaction()
        sbml.setId(rid)
        if reaction.name is not None and reaction.name != rid:
            sbml.setName(reaction.name)
        sbml.setReversible(reaction.reversible)
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
        kinetics = reaction.kinetics
        if "rate_law" not in vars(type(kinetics)):
            raise ValueError(
                f"reaction {reaction.label!r}: cannot write {type(kinetics).__name__} kinetics "
                "as SBML: its class does not define its own rate_law (an inherited one need not "
                "describe what it computes)"
            )
        values = {name: float(value) for name, value in kinetics.parameters.items()}
        volume = _fresh("volume", set(values))
        tree = kinetics.rate_law(reaction.reactants, ("param", volume))
        law = sbml.createKineticLaw()
        local_ids = set(self.taken)
        rename = {volume: self.compartment}
        for name, value in values.items():
            parameter = law.createLocalParameter()
            rename[name] = _fresh(name, local_ids)
            parameter.setId(rename[name])
            parameter.setValue(value)
        self.math(law, tree, rename, f"the kinetic law of reaction {reaction.label!r}")
        if type(kinetics) in ANNOTATED_KINETICS.values():
            self.check(law.appendAnnotation(annotation(kinetics)), "an annotation")

    def global_math(self, owner, function: object, what: str) -> None:
        """Writes a :class:`StateFunction`'s math, its parameters as new global parameters."""
        if not isinstance(function, StateFunction):
            raise ValueError(
                f"cannot write {what} as SBML: its expression is a {type(function).__name__}, "
                "not a jumpax.StateFunction"
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
        scheduled = isinstance(event, StateEvent)
        sbml.setUseValuesFromTriggerTime(not scheduled or event.values_at_trigger)
        trigger = sbml.createTrigger()
        trigger.setPersistent(not scheduled or event.persistent)
        what = f"event {sbml.getId()!r}"
        for kind in ("delay", "priority") if scheduled else ():
            if getattr(event, kind) is not None:
                owner = sbml.createDelay() if kind == "delay" else sbml.createPriority()
                self.global_math(owner, getattr(event, kind), f"the {kind} of {what}")
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
    their expressions are :class:`~jumpax.StateFunction` objects (as in loaded
    models), with their delays, priorities and persistence. Variables become non-constant
    parameters, observables parameters set by assignment rules. Reaction names that are
    valid SBML ids become the ids, other names the SBML names.

    Example:
        >>> text = jx.to_sbml(jx.models.dimerisation())
        >>> again = jx.load_sbml(text)

    Args:
        network: the network (with concrete parameter values).
        model_id: the SBML model id.

    Returns:
        The SBML document as text.

    Raises:
        ValueError: for kinetics, rules, events or observables that cannot be written as
            SBML math.
    """
    return _Writer(network, model_id).document_text()


