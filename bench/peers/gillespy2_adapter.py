"""gillespy2: the C++ SSA solver (``SSACSolver``), built once per model by ``setup``.

gillespy2's mass action for ``2 X -> ...`` is ``rate * X * (X - 1)`` (no division by 2; see
``gillespy2.core.reaction.Reaction._create_mass_action``), so the rate passed is ``k / 2`` for
a reactant coefficient of 2; zeroth and first order are the same as jumpax (volume 1).

* events: n/a (the C++ solver writes the state only at the ``timespan`` points).
* grid: ``timespan = linspace(0, t1, 101)``.
* final: ``timespan = [0, t1]``: the smallest output it has.

The solver runs one trajectory after another in a single C++ process (one core) and streams
text to Python, which decodes it; both are part of the timed call. Events are not reported,
so the table uses jumpax's mean events per trajectory. ``setup`` (timed as compile) builds the
C++ solver; the harness samples the C++ process's memory and adds it to the worker's peak.
The solver needs the benchmark environment's ``bin`` (scons) first on ``PATH``.
"""

from __future__ import annotations

import numpy as np

from .harness import Adapter as BaseAdapter
from .harness import ChildMemorySampler, Summary
from .models import Model


def gillespy2_rate(reactants: dict[str, int], k: float) -> float:
    """Converts a jumpax mass-action constant to gillespy2's (``k C(x,2)`` = ``r x (x-1)``)."""
    if sum(reactants.values()) > 2:
        raise ValueError("gillespy2 mass action supports at most second order")
    return k / 2.0 if 2 in reactants.values() else k


class Adapter(BaseAdapter):
    """Runs gillespy2's ``SSACSolver``."""

    name = "gillespy2"
    unsupported = {"events": "gillespy2's SSA C++ solver records only the timespan points"}
    compiles_per_size = False

    def setup(self, model: Model, mode: str) -> None:
        import gillespy2 as gp

        m = gp.Model(name="bench")
        m.add_species([gp.Species(name=s, initial_value=int(model.x0.get(s, 0)), mode="discrete")
                       for s in model.species])
        for j, r in enumerate(model.reactions):
            m.add_parameter(gp.Parameter(name=f"k{j}", expression=gillespy2_rate(r.reactants, r.k)))
            m.add_reaction(gp.Reaction(name=f"R{j}", reactants=dict(r.reactants),
                                       products=dict(r.products), rate=f"k{j}"))
        m.timespan(model.grid() if mode == "grid" else np.array([0.0, model.t1]))
        self.observable = model.observable
        self.solver = gp.SSACSolver(model=m)

    def run(self, n: int, seed: int) -> Summary:
        with ChildMemorySampler() as sampler:
            results = self.solver.run(number_of_trajectories=n, seed=seed + 1)
        obs = [trajectory[self.observable][-1] for trajectory in results]
        return Summary.from_arrays(obs, child_peak_mb=sampler.peak_mb)
