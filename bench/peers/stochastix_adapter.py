"""stochastix: ``stochsimsolve`` / ``faststochsimsolve`` with the exact ``DirectMethod``.

* events: ``stochsimsolve(save_trajectory=True, save_propensities=False)``, a ``lax.scan`` of
  ``model.max_steps`` steps (no early exit); events counted as ``reactions >= 0``.
* grid: the same event list, then ``SimulationResults.interpolate`` onto the grid (stochastix
  has no grid mode that avoids storing the events).
* final: ``faststochsimsolve`` (early-exit ``while_loop``); it does not report the number of
  events, so the table uses jumpax's mean events per trajectory for the same model.

The default solver of both functions is ``DifferentiableDirect`` (a relaxed, not exact,
sampler), so ``DirectMethod()`` is passed explicitly. Ensembles: ``jax.jit(jax.vmap(...))``
over keys. stochastix mass action is ``k * prod C(x_i, s_i)``, the jumpax convention.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from . import jaxcommon
from .harness import Adapter as BaseAdapter
from .harness import Summary
from .models import Model


class Adapter(BaseAdapter):
    """Runs stochastix's exact Direct method, vmapped over trajectories."""

    name = "stochastix"

    def setup(self, model: Model, mode: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # experimental-module notice
            import stochastix as stx

        network = stx.ReactionNetwork(
            [stx.Reaction(r.equation(), stx.kinetics.MassAction(r.k)) for r in model.reactions]
        )
        order = [model.species.index(s) for s in network.species]  # stochastix sorts species
        x0 = jnp.asarray([model.x0_vector[i] for i in order], dtype=jnp.float32)
        obs = network.species.index(model.observable)
        grid = jnp.asarray(model.grid())
        solver = stx.DirectMethod()

        def event_list(key):
            return stx.stochsimsolve(
                key, network, x0, T=model.t1, max_steps=model.max_steps, solver=solver,
                save_trajectory=True, save_propensities=False,
            )

        def one(key):
            if mode == "final":
                res = stx.faststochsimsolve(
                    key, network, x0, T=model.t1, max_steps=10**9, solver=solver,
                    save_propensities=False,
                )
                return (res.x, res.t), res.x[-1, obs], None, res.time_overflow
            res = event_list(key)
            events = jnp.sum(res.reactions >= 0)
            # A full buffer may have truncated the path. (``time_overflow`` is not used: it
            # compares a float32 cumulative sum of the waiting times with T and can flag
            # complete paths.)
            overflow = events >= model.max_steps
            if mode == "grid":
                sampled = res.interpolate(grid)
                return (sampled.x, sampled.t), sampled.x[-1, obs], events, overflow
            return (res.x, res.t, res.reactions), res.x[-1, obs], events, overflow

        self.simulate = jax.jit(jax.vmap(one))

    def run(self, n: int, seed: int) -> Summary:
        output, obs, events, overflow = jax.block_until_ready(
            self.simulate(jaxcommon.keys(seed, n))
        )
        if bool(jnp.any(overflow)):
            raise RuntimeError("stochastix: the event buffer (max_steps) overflowed")
        del output  # returned so that XLA keeps the full output; not inspected
        return jaxcommon.summarize(obs, events)
