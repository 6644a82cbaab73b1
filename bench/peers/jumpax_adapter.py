"""jumpax: ``jx.simulate`` called exactly as a user would (it compiles itself).

Events are counted by jumpax (``results.n_steps``). Models tagged ``sbml`` are written to an
SBML file and read back with ``jx.load_sbml``. Event-list mode uses a buffer of
``model.max_steps`` (1.3x the expected events per trajectory).
"""

from __future__ import annotations

import pathlib
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

from . import jaxcommon
from .harness import Adapter as BaseAdapter
from .harness import Summary
from .models import Model


class Adapter(BaseAdapter):
    """Runs ``jumpax.simulate`` with ``save_at`` = None / a 101-point grid / ``"final"``."""

    name = "jumpax"

    def setup(self, model: Model, mode: str) -> None:
        import jumpax as jx

        self.jx = jx
        self.model = model
        self.network = jx.ReactionNetwork(
            [jx.Reaction(r.equation(), r.k) for r in model.reactions], species=model.species
        )
        if "sbml" in model.tags:
            # Read from an SBML file, as a user brings such a network (the setup time, part
            # of the compile-time column, includes writing and reading it).
            with tempfile.TemporaryDirectory() as folder:
                path = pathlib.Path(folder) / f"{model.name}.xml"
                path.write_text(jx.to_sbml(self.network))
                self.network = jx.load_sbml(path)
        self.x0 = dict(model.x0)
        self.save_at = {"events": None, "grid": jnp.asarray(model.grid()), "final": "final"}[mode]
        self.max_steps = model.max_steps if mode == "events" else None

    def run(self, n: int, seed: int) -> Summary:
        res = self.jx.simulate(
            jax.random.key(seed), self.network, self.x0, self.model.t1, save_at=self.save_at,
            max_steps=self.max_steps, num_trajectories=n,
        )
        if np.any(np.asarray(res.overflow)):
            raise RuntimeError("jumpax: some trajectories overflowed max_steps")
        # Event list or grid: the last row is the state at t1. The extraction is kept as cheap
        # as the peers' (which index inside their jitted functions): the large event lists
        # are sliced where they are, small outputs are read on the host.
        x = res.x[:, -1] if self.save_at is None else np.asarray(res.x)
        final = np.asarray(x) if x.ndim == 2 else x[:, -1]
        return jaxcommon.summarize(final[:, self.model.observable_index], res.n_steps)
