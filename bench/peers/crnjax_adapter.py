"""crn-jax: its Gillespie driver (``crn_jax.gillespie``) with our propensity function.

crn-jax models are user-written propensity and reaction-application functions over a state
PyTree; its own model modules hard-code their networks, so the adapter supplies the shared
mass-action propensities of ``jaxcommon`` and a stoichiometry update (floored at 0 like
``crn_jax.models.make_apply_reaction``). The state is crn-jax's ``State`` fields plus an event
counter incremented by the reaction-application function.

* events: n/a (the driver keeps only the current state).
* grid: ``simulate_trajectory`` with 100 fixed intervals of ``t1/100`` (its pending-reaction
  carry-over keeps this exact), plus the initial state.
* final: ``simulate_until(t1)``.

``max_steps`` (per interval in crn-jax) is set to 10**9 so it never truncates.
Ensembles: ``jax.jit(jax.vmap(...))`` over keys, as ``crn_jax.models.make_vmap_simulator``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import jaxcommon
from .harness import Adapter as BaseAdapter
from .harness import Summary
from .models import N_GRID, Model

NO_LIMIT = 10**9


class CountingState(NamedTuple):
    """crn-jax's ``State`` (time, x, next_reaction_time) plus an event counter."""

    time: jax.Array
    x: jax.Array
    next_reaction_time: jax.Array
    n_events: jax.Array


class Adapter(BaseAdapter):
    """Runs crn-jax's ``simulate_until`` / ``simulate_trajectory``, vmapped."""

    name = "crn-jax"
    unsupported = {"events": "crn-jax's driver keeps only the current state (no event list)"}

    def setup(self, model: Model, mode: str) -> None:
        from crn_jax.gillespie import simulate_trajectory, simulate_until

        propensities = jaxcommon.propensity_fn(model)
        stoich = jaxcommon.stoichiometry(model)
        obs = model.observable_index
        x0 = jnp.asarray(model.x0_vector, dtype=jnp.float32)

        def compute_propensities(state, _input):
            return propensities(state.x)

        def apply_reaction(state, j):
            return state._replace(x=jnp.maximum(0.0, state.x + stoich[j]),
                                  n_events=state.n_events + 1)

        def initial_state():
            return CountingState(jnp.array(0.0), x0, jnp.array(jnp.inf), jnp.array(0))

        def one(key):
            if mode == "final":
                state, _ = simulate_until(
                    key, initial_state(), jnp.array(0.0), model.t1, NO_LIMIT,
                    compute_propensities, apply_reaction,
                    lambda s: s.time, lambda s, t: s._replace(time=t),
                )
                return state.x, state.x[obs], state.n_events
            states = simulate_trajectory(
                key, initial_state(), timestep=model.t1 / (N_GRID - 1), n_steps=N_GRID - 1,
                compute_propensities_fn=compute_propensities, apply_reaction_fn=apply_reaction,
                max_steps=NO_LIMIT,
            )
            path = jnp.concatenate([x0[None], states.x])
            return path, path[-1, obs], states.n_events[-1]

        self.simulate = jax.jit(jax.vmap(one))

    def run(self, n: int, seed: int) -> Summary:
        output, obs, events = jax.block_until_ready(self.simulate(jaxcommon.keys(seed, n)))
        del output  # returned so that XLA keeps the full output; not inspected
        return jaxcommon.summarize(obs, events)
