"""jsmfsb: ``Spn.step_gillespie`` with ``sim_time_series`` (grid) or one step to t1 (final).

A jsmfsb model is an ``Spn`` (pre/post matrices and a hazard function ``h(x, t)``); the hazard
is the shared mass-action propensity of ``jaxcommon`` (the jumpax convention; jsmfsb's own
``models.dimer`` writes ``c x (x-1)/2`` by hand, the same convention).

* events: n/a (``step_gillespie`` returns only the state at the end of the interval).
* grid: ``sim_time_series(key, x0, 0, t1 + dt/2, dt, step)`` with ``dt = t1/100`` (101 rows;
  the half step keeps its floor division from dropping the last point).
* final: ``step(key, x0, 0, t1)``.

Events are not reported, so the table uses jumpax's mean events per trajectory. Ensembles use
``jax.jit(jax.vmap(...))`` over keys: ``sim_sample``'s default (``lax.map``, one trajectory
after another) was about 5x slower in a trial on this machine.
"""

from __future__ import annotations

import jax
import numpy as np

from . import jaxcommon
from .harness import Adapter as BaseAdapter
from .harness import Summary
from .models import N_GRID, Model


class Adapter(BaseAdapter):
    """Runs jsmfsb's Gillespie stepper, vmapped over trajectories."""

    name = "jsmfsb"
    unsupported = {"events": "jsmfsb's step_gillespie returns only the state (no event list)"}

    def setup(self, model: Model, mode: str) -> None:
        import jsmfsb

        pre = np.zeros((len(model.reactions), len(model.species)), dtype=np.int64)
        post = np.zeros_like(pre)
        for j, reaction in enumerate(model.reactions):
            for name, c in reaction.reactants.items():
                pre[j, model.species.index(name)] = c
            for name, c in reaction.products.items():
                post[j, model.species.index(name)] = c
        propensities = jaxcommon.propensity_fn(model)
        spn = jsmfsb.Spn(
            list(model.species), [f"R{j}" for j in range(len(model.reactions))],
            pre.tolist(), post.tolist(), lambda x, t: propensities(x), model.x0_vector,
        )
        step = spn.step_gillespie()
        obs = model.observable_index

        def one(key):
            if mode == "final":
                x = step(key, spn.m, 0.0, model.t1)
                return x, x[obs]
            # sim_time_series takes int((tt - t0) // dt) steps, and 10 // 0.1 == 99.0 in
            # floating point: half a step of slack makes it exactly N_GRID - 1 steps.
            dt = model.t1 / (N_GRID - 1)
            path = jsmfsb.sim_time_series(key, spn.m, 0.0, model.t1 + dt / 2, dt, step)
            return path, path[-1, obs]

        self.simulate = jax.jit(jax.vmap(one))

    def run(self, n: int, seed: int) -> Summary:
        output, obs = jax.block_until_ready(self.simulate(jaxcommon.keys(seed, n)))
        del output  # returned so that XLA keeps the full output; not inspected
        return jaxcommon.summarize(obs)
