"""Controllers: constant inputs, PI feedback and model-predictive control (cross-entropy method).

A controller is an Equinox module with ``init(env, obs) -> carry`` and
``controller(key, carry, obs, state) -> (action, carry)``: pure, so a whole episode (and many
in parallel) compiles as one computation (:func:`jumpax.control.rollout`). Only the oracle's
planner reads the true ``state``; the others see the observation and the sampling time.

Model-predictive control plans over a model of one sampling interval
(:class:`AbstractPlanningModel`): :class:`ExactModel` simulates the true network exactly (the
oracle), :class:`LearnedModel` samples a fitted
:class:`~jumpax.dynamics.StochasticTransitionModel` of the observations.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray, PyTree

from ..learning._dynamics import StochasticTransitionModel
from ._env import ControlEnv, EnvState

__all__ = [
    "AbstractController",
    "AbstractPlanningModel",
    "ConstantController",
    "ExactModel",
    "LearnedModel",
    "MPCController",
    "PIController",
    "RandomController",
]


class AbstractController(eqx.Module):
    """A feedback law: an action from the observation (and a carried memory)."""

    def init(self, env: ControlEnv, obs: Array) -> PyTree:
        """The carry at the start of an episode (default: none)."""
        return jnp.zeros(())

    @abc.abstractmethod
    def __call__(
        self, key: PRNGKeyArray, carry: PyTree, obs: Array, state: EnvState
    ) -> tuple[Array, PyTree]:
        """``(action, carry)`` at the sampling time ``state.k``, given observation ``obs``."""


class ConstantController(AbstractController):
    """The same action at every step (open loop).

    Attributes:
        action: The action, one entry per input.
    """

    action: Array

    def __init__(self, action: ArrayLike):
        """Create the controller from an action vector."""
        self.action = jnp.atleast_1d(jnp.asarray(action, jnp.float32))

    def __call__(self, key, carry, obs, state):
        """The constant action."""
        return self.action, carry


class RandomController(AbstractController):
    """Independent uniform actions in ``[low, high]`` at each step (exploration).

    Attributes:
        low: Lower bounds of the actions.
        high: Upper bounds of the actions.
    """

    low: Array
    high: Array

    def __init__(self, env: ControlEnv):
        """Create the controller for the bounds of ``env``'s inputs."""
        self.low = jnp.asarray(env.action_low)
        self.high = jnp.asarray(env.action_high)

    def __call__(self, key, carry, obs, state):
        """A uniform draw in the bounds."""
        return jax.random.uniform(key, self.low.shape, minval=self.low, maxval=self.high), carry


class PIController(AbstractController):
    """Proportional-integral feedback, one loop per input, with anti-windup.

    Input ``i`` acts on tracked species ``i`` of the environment's cost (so the environment has
    as many inputs as tracked species, paired in order). With the relative error
    ``e = (r(k) - y) / scale`` and its integral ``I`` (in time units)::

        u = clip(bias + kp e + ki (I + e dt), low, high)

    and ``I`` integrates only while ``u`` is not saturated (conditional integration), so the
    integral never winds up against an input bound.

    Attributes:
        kp: Proportional gains, one per input.
        ki: Integral gains (per time unit), one per input.
        bias: The action at zero error, one per input.
        env: The environment (its cost, bounds and ``dt``).
    """

    kp: Array
    ki: Array
    bias: Array
    env: ControlEnv

    def __init__(self, env: ControlEnv, kp: ArrayLike, ki: ArrayLike, bias: ArrayLike):
        """Create the controller.

        Raises:
            ValueError: if the environment has not one input per tracked species.
        """
        n = len(env.inputs)
        if n != len(env.cost.species):
            raise ValueError(
                f"PIController pairs inputs with tracked species: {n} inputs for "
                f"{len(env.cost.species)} tracked species {env.cost.species}"
            )
        self.kp, self.ki, self.bias = (
            jnp.broadcast_to(jnp.asarray(v, jnp.float32), (n,)) for v in (kp, ki, bias)
        )
        self.env = env

    def init(self, env, obs):
        """A zero integral."""
        return jnp.zeros(len(env.inputs), jnp.float32)

    def __call__(self, key, carry, obs, state):
        """The PI action and the updated integral."""
        env = self.env
        cost = env.cost
        error = (cost.reference(state.k) - obs[env.tracked_index]) / cost.scale
        integral = carry + error * env.dt
        raw = self.bias + self.kp * error + self.ki * integral
        action = jnp.clip(raw, env.action_low, env.action_high)
        saturated = raw != action
        return action, jnp.where(saturated, carry, integral)


class AbstractPlanningModel(eqx.Module):
    """What the planner predicts with: a state, its step over one interval, its tracked counts."""

    @abc.abstractmethod
    def start(self, obs: Array, state: EnvState) -> Array:
        """The planning state at the current sampling time."""

    @abc.abstractmethod
    def predict(self, key: PRNGKeyArray, s: Array, action: Array, k: Array) -> Array:
        """A sample of the planning state one interval after ``s`` (at sampling time ``k``)."""

    @abc.abstractmethod
    def tracked(self, s: Array) -> Array:
        """The tracked counts of a planning state (what the cost is evaluated on)."""


class ExactModel(AbstractPlanningModel):
    """The true network, simulated exactly from the true counts: the oracle's model.

    Attributes:
        env: The environment.
    """

    env: ControlEnv

    def start(self, obs, state):
        """The true counts."""
        return state.x

    def predict(self, key, s, action, k):
        """An exact simulation of one interval."""
        return self.env.transition(key, s, action, k)

    def tracked(self, s):
        """The tracked species' counts."""
        return self.env.tracked_counts(s)


class LearnedModel(AbstractPlanningModel):
    """A fitted stochastic transition model of the observations, sampled one interval at a time.

    Attributes:
        model: The :class:`~jumpax.dynamics.StochasticTransitionModel` (observation and action
            spaces those of the environment).
        params: The model's parameters (captured when the planner is built).
        tracked_index: Positions of the tracked species in the observation.
    """

    model: StochasticTransitionModel = eqx.field(static=True)
    params: PyTree
    tracked_index: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, model: StochasticTransitionModel, env: ControlEnv):
        """Wrap ``model``'s current parameters for planning in ``env``."""
        self.model = model
        self.params = model.params
        self.tracked_index = tuple(int(i) for i in env.tracked_index)

    def start(self, obs, state):
        """The observation."""
        return obs

    def predict(self, key, s, action, k):
        """A sample of the next observation."""
        dist, _ = self.model.forward(self.params, self.model.function_state, s[None], action[None])
        return self.model.distribution.sample(dist, key)[0]

    def tracked(self, s):
        """The tracked entries of the observation."""
        return s[np.asarray(self.tracked_index)]


class MPCController(AbstractController):
    """Model-predictive control: plan by the cross-entropy method, apply the first action.

    At each sampling time, ``iterations`` rounds of the cross-entropy method search action
    sequences over ``lookahead`` intervals: ``population`` sequences are drawn from a Gaussian
    (clipped to the bounds; the best sequence so far is always one of them), each is rolled out
    once through the planning model with the same random numbers (common random numbers:
    sequences are compared on their effect, not their luck), scored by the environment's cost
    summed over the lookahead, and the ``elites`` best refit the Gaussian. The first action of
    the best sequence found is applied (not the elite mean, which clipping at a bound biases
    inward), and that sequence, shifted by one, warm-starts the next sampling time.

    Attributes:
        env: The environment (cost, bounds).
        model: The planning model.
        lookahead: Intervals planned ahead.
        population: Sequences per round.
        elites: Sequences kept per round.
        iterations: Rounds per sampling time.
        samples: Rollouts per sequence (their mean cost scores it).
        init_std: The search's initial standard deviation, as a fraction of each input's range.
    """

    env: ControlEnv
    model: AbstractPlanningModel
    lookahead: int = eqx.field(static=True)
    population: int = eqx.field(static=True)
    elites: int = eqx.field(static=True)
    iterations: int = eqx.field(static=True)
    samples: int = eqx.field(static=True)
    init_std: float = eqx.field(static=True)

    def __init__(
        self,
        env: ControlEnv,
        model: AbstractPlanningModel,
        *,
        lookahead: int = 2,
        population: int = 32,
        elites: int = 4,
        iterations: int = 3,
        samples: int = 8,
        init_std: float = 0.5,
    ):
        """Create the controller (see the class attributes).

        Raises:
            ValueError: for non-positive sizes or ``elites > population``.
        """
        for name, value in (
            ("lookahead", lookahead), ("population", population), ("elites", elites),
            ("iterations", iterations), ("samples", samples),
        ):
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if elites > population:
            raise ValueError(f"elites ({elites}) cannot exceed population ({population})")
        if not init_std > 0:
            raise ValueError(f"init_std must be positive, got {init_std}")
        self.env = env
        self.model = model
        self.lookahead = lookahead
        self.population = population
        self.elites = elites
        self.iterations = iterations
        self.samples = samples
        self.init_std = float(init_std)

    def init(self, env, obs):
        """A plan at the middle of the bounds."""
        middle = (env.action_low + env.action_high) / 2
        return jnp.broadcast_to(jnp.asarray(middle), (self.lookahead, len(env.inputs)))

    def plan_cost(self, key: PRNGKeyArray, s0: Array, k0: Array, plan: Array) -> Array:
        """The cost of one action sequence, rolled out once through the model."""

        def one(s, inputs):
            key, h, u = inputs
            s = self.model.predict(key, s, u, k0 + h)
            return s, self.env.cost(self.model.tracked(s), u, k0 + h + 1)

        keys = jax.random.split(key, self.lookahead)
        _, costs = jax.lax.scan(one, s0, (keys, jnp.arange(self.lookahead), plan))
        return jnp.sum(costs)

    def __call__(self, key, carry, obs, state):
        """The first action of the planned sequence, and the shifted plan."""
        low, high = jnp.asarray(self.env.action_low), jnp.asarray(self.env.action_high)
        s0 = self.model.start(obs, state)
        mean, std = carry, jnp.broadcast_to(self.init_std * (high - low), carry.shape)

        def round_(c, key):
            mean, std, best, best_cost = c
            draw_key, eval_key = jax.random.split(key)
            noise = jax.random.normal(draw_key, (self.population, *mean.shape))
            plans = jnp.clip(mean + std * noise, low, high).at[0].set(best)
            # Common random numbers: every sequence is scored on the same noise, so that
            # sequences are compared on their effect rather than on their luck.
            sample_keys = jax.random.split(eval_key, self.samples)
            costs = jax.vmap(
                lambda plan: jnp.mean(
                    jax.vmap(self.plan_cost, in_axes=(0, None, None, None))(
                        sample_keys, s0, state.k, plan
                    )
                )
            )(plans)
            order = jnp.argsort(costs)
            elite = plans[order[: self.elites]]
            better = costs[order[0]] < best_cost
            best = jnp.where(better, plans[order[0]], best)
            best_cost = jnp.where(better, costs[order[0]], best_cost)
            return (elite.mean(axis=0), elite.std(axis=0), best, best_cost), None

        init = (mean, std, mean, jnp.asarray(jnp.inf, jnp.float32))
        (_, _, plan, _), _ = jax.lax.scan(round_, init, jax.random.split(key, self.iterations))
        shifted = jnp.concatenate([plan[1:], plan[-1:]])
        return plan[0], shifted

