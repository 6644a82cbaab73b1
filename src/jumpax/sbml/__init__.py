"""SBML import and export: :func:`load_sbml`, :func:`to_sbml` and test-suite settings files.

This is the only part of jumpax that imports libsbml. It builds on the network layer
(reactions, kinetics, expressions, events), which never imports it.

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
- assignment rules on species become :class:`~jumpax.AssignmentRule`; events become
  :class:`~jumpax.TimeEvent` (trigger ``time >= c`` or ``time > c``) or
  :class:`~jumpax.StateEvent` (a trigger of the state only).

Everything jumpax cannot simulate exactly is refused with a ``ValueError`` naming the element:
rate and algebraic rules, delays, event priorities, triggers mixing time and state, events
that change parameters, reversible or fast reactions (checked before a Level 1 or 2 model is
converted, as Level 3 Version 2 has no ``fast`` attribute), ``stoichiometryMath``,
non-integer stoichiometry or initial amounts, conversion factors, constraints,
time-dependent rate laws, unsupported MathML functions and required SBML packages. Anything
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
