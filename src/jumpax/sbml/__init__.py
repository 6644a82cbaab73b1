"""SBML import and export: :func:`load_sbml`, :func:`to_sbml` and test-suite settings files.

This is the only part of jumpax that imports libsbml. It builds on the network layer
(reactions, kinetics, expressions, events), which never imports it.

:func:`load_sbml` reads an SBML file (any level; libsbml converts it to Level 3 Version 2,
and flattens hierarchical ``comp`` models) into a :class:`~jumpax.ReactionNetwork`:

- every kinetic law becomes :class:`~jumpax.ExpressionKinetics`, its math translated from the
  parsed MathML tree (never evaluated as text). The law's value is the propensity in events
  per unit time, "as written" (the SBML Test Suite / DSMTS convention), and the rate of the
  reaction-rate ODE. A species symbol means its amount if ``hasOnlySubstanceUnits`` is true
  (or its compartment has dimension 0) and its concentration (amount divided by its
  compartment's size) otherwise; a compartment symbol means its size, a reaction id its rate,
  a species reference id its stoichiometry.
- constant global and reaction-local parameters (locals shadow globals) and compartment sizes
  become trainable parameter leaves of the expressions that read them (one copy per
  expression); function definitions, initial assignments and assignment rules on parameters
  and compartments are inlined or evaluated.
- the state holds every species and, as network variables, the parameters, compartments and
  stoichiometries that rate rules or events change, and a ``clock`` where math reads
  ``time``; compartments, parameters and reaction rates outside the state are observables
  (:meth:`~jumpax.ReactionNetwork.observe`).
- assignment rules on species become :class:`~jumpax.AssignmentRule`, rate rules
  :class:`~jumpax.RateRule`; events become :class:`~jumpax.TimeEvent` (trigger
  ``time >= c``) or :class:`~jumpax.StateEvent` (any other trigger, with its delay, priority
  and persistence).
- a reversible reaction whose law is a difference becomes a forward and a reverse reaction;
  one whose law does not split, a net-rate reaction; stoichiometries that are not constant
  whole numbers (rules, fractions, conversion factors) become net-rate fluxes.
- ``molecules_per_amount`` converts amounts to molecule counts for the jump solvers.

The reaction-rate ODE (:class:`~jumpax.MeanFieldModel`) follows all of this; the jump solvers
and the Langevin model refuse, by name, what has no stochastic meaning (rate rules,
variables, net rates, delayed or prioritised events). ``load_sbml`` refuses with a
``ValueError`` naming the element: algebraic rules, fast reactions (checked before a Level 1
or 2 model is converted, as Level 3 Version 2 has no ``fast`` attribute), ``delay()``,
``rateOf`` of a symbol set by an assignment rule, constraints, required SBML packages other
than ``comp``, NaN constants and undefined identifiers. Anything
but a regular file (a FIFO, a device such as ``/dev/zero``, a directory), files larger than
10 MB, XML nested deeper than 256 elements and ``DOCTYPE`` declarations are refused before
libsbml sees them; so are chains of more than 32 function definitions calling one another, or
of assignment rules and initial assignments reading one another (libsbml's consistency check
takes time growing with about the fourth power of their length). Math deeper than 200 levels
or larger than 10,000 nodes (after inlining functions and rules) is refused while it is
translated.

:func:`to_sbml` writes a network as SBML Level 3 Version 2. Each kinetic law is written as
MathML (the kinetics' :meth:`~jumpax.AbstractKinetics.rate_law`, readable by any SBML tool)
and, for jumpax's built-in kinetics classes, also as a ``jumpax:kinetics`` annotation that
:func:`load_sbml` prefers after checking that the MathML is that class's law, node for node,
with the annotated values (to a relative ``1e-9``, in double precision): the two are then
the same law at every state. A network built in Python round-trips to the same kinetics
classes and parameter values; a file whose MathML another tool changed is refused, naming
the reaction (remove the annotation to use the MathML).
"""

from ._export import to_sbml
from ._load import load_sbml
from ._settings import SimulationSettings, find_settings, load_settings

__all__ = ["SimulationSettings", "find_settings", "load_sbml", "load_settings", "to_sbml"]
