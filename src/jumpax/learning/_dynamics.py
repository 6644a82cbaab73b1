"""Learned dynamics models: transition models and reward functions.

A dynamics model wraps a user's Equinox module ``func`` that maps **one** example ``(s, a)`` to a
flat array of outputs; the model batches it with :func:`jax.vmap`. Four models are provided:

======================================  ======================  ==============================
model                                   learns                  ``func`` returns
======================================  ======================  ==============================
:class:`TransitionModel`                next observation        ``size(obs)`` numbers
:class:`StochasticTransitionModel`      ``p(s' | s, a)``        distribution parameters
:class:`RewardFunction`                 reward                  1 number
:class:`StochasticRewardFunction`       ``p(r | s, a)``         2 numbers (``mu``, ``logvar``)
======================================  ======================  ==============================

**Inputs.** ``func`` must be a pytree holding its parameters (an Equinox module): parameters
captured in a closure or lambda are invisible to the updater. :class:`ConcatInputs` turns a module
of one vector (such as :class:`equinox.nn.MLP`) into one of ``(s, a)``. ``func(s, a)`` receives
float vectors: ``s`` is the observation flattened to
``gymnasium.spaces.flatdim(observation_space)`` numbers (a ``Discrete`` value becomes a one-hot
vector) and ``a`` likewise for the action. A ``Box(-inf, inf, shape=(0,))`` action space is the
way to model an autonomous system: ``a`` is then an empty vector.

**Batches.** Methods take a batch ``S`` of shape ``(batch, *observation_space.shape)`` (integers of
shape ``(batch,)`` for a ``Discrete`` space) and a batch ``A`` likewise. Dict, Tuple and other
composite spaces are flattened with Gymnasium's tools: the model works on the Box
``gymnasium.spaces.flatten_space(space)``, and batches hold observations flattened with
``gymnasium.spaces.flatten`` (the builders in :mod:`jumpax.transitions` do this).

**Outputs.** ``func``'s output may have any shape; it is flattened (C order) to the number of values
the model needs, which is checked when the model is built:

- deterministic models: one number per coordinate of the target, reshaped to the target's shape;
- stochastic models over a real target (``Box`` observations, rewards): ``2 * size`` numbers, the
  first half the means ``mu`` and the second half the log-variances ``logvar`` of a diagonal
  normal distribution (see :class:`NormalDist`);
- stochastic models over a ``Discrete`` observation: ``n`` logits of a categorical distribution
  (see :class:`CategoricalDist`).

A stochastic model's ``func`` may instead return the distribution parameters by name, as coax's
functions do: ``{"mu": ..., "logvar": ...}`` (each of the target's shape) or ``{"logits": ...}``.

Targets are compared in their own space: no rescaling to the Box bounds and no squashing.

**State.** The wrapper is stateful, like its seed API: ``model.params`` holds the trainable arrays
(every inexact array of ``func``, split off with :func:`equinox.partition`) and
``model.function_state`` the forward-pass state. The state is ``{}`` for a stateless ``func``;
for a module with state (e.g. :class:`equinox.nn.BatchNorm` with ``axis_name="batch"``) pass
``state=`` an :class:`equinox.nn.State`, and ``func`` is then called as
``func(s, a, state) -> (output, state)``. Predictions run ``func`` in inference mode
(:func:`equinox.nn.inference_mode`); :class:`jumpax.model_updaters.ModelUpdater` trains it in
training mode and replaces ``params`` and ``function_state`` after each update.

**Randomness.** A ``func`` with a ``key`` keyword (e.g. one using :class:`equinox.nn.Dropout`)
is called as ``func(s, a, key=k)`` (``func(s, a, state, key=k)`` with a state): in training the
updater passes a fresh key for every example of every update; predictions pass ``key=None``
(inference mode, where dropout is off).

Example:
    >>> import equinox as eqx, gymnasium, jax, jax.numpy as jnp
    >>> obs = gymnasium.spaces.Box(-jnp.inf, jnp.inf, shape=(2,))
    >>> act = gymnasium.spaces.Discrete(3)
    >>> from jumpax.dynamics import ConcatInputs, StochasticTransitionModel
    >>> mlp = eqx.nn.MLP(2 + 3, 2 * 2, 16, 1, key=jax.random.key(0))
    >>> model = StochasticTransitionModel(ConcatInputs(mlp), obs, act)
    >>> S, A = jnp.zeros((5, 2)), jnp.array([0, 1, 2, 0, 1])
    >>> model.sample(S, A, jax.random.key(1)).shape
    (5, 2)
"""

import abc
import functools as ft
import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import gymnasium
import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

__all__ = [
    "AbstractDeterministicModel",
    "AbstractDynamicsModel",
    "AbstractProbaDist",
    "AbstractStochasticModel",
    "CategoricalDist",
    "ConcatInputs",
    "Forward",
    "NormalDist",
    "RewardFunction",
    "StochasticRewardFunction",
    "StochasticTransitionModel",
    "TransitionModel",
    "proba_dist",
]

PyTree = Any
_LOG_2PI = math.log(2 * math.pi)


def _sum_event(x: Array) -> Array:
    """Sum over every axis but the leading sample axis."""
    return jnp.sum(x.reshape(x.shape[0], -1), axis=1)


class AbstractProbaDist(eqx.Module):
    """A family of distributions over the variates of one space, used in batches.

    Variates and distribution parameters carry a leading sample axis. All methods are pure
    functions of their arguments and can be used inside JAX transformations.
    """

    @property
    @abc.abstractmethod
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one variate."""

    param_names: ClassVar[tuple[str, ...]]
    """The names of the distribution parameters, in the order of the raw outputs."""

    @property
    @abc.abstractmethod
    def num_params(self) -> int:
        """How many raw numbers ``func`` must output per example to parametrise a distribution."""

    @abc.abstractmethod
    def flatten(self, x: ArrayLike) -> Array:
        """Encode a batch of variates as float vectors ``(batch, size)`` (the network's input)."""

    @abc.abstractmethod
    def params_from_raw(self, raw: Array) -> dict[str, Array]:
        """Split raw network outputs ``(batch, num_params)`` into named distribution parameters."""

    @abc.abstractmethod
    def log_prob(self, params: dict[str, Array], x: ArrayLike) -> Array:
        """The exact log-probability (density or mass) of each variate, shape ``(batch,)``."""

    @abc.abstractmethod
    def sample(self, params: dict[str, Array], key: Array) -> Array:
        """Draw one variate per sample."""

    @abc.abstractmethod
    def mode(self, params: dict[str, Array]) -> Array:
        """The most probable variate of each sample."""

    @abc.abstractmethod
    def flat_mean(self, params: dict[str, Array]) -> Array:
        """The mean of the encoded variate ``E[flatten(x)]``, shape ``(batch, size)``."""

    @abc.abstractmethod
    def entropy(self, params: dict[str, Array]) -> Array:
        """The entropy of each distribution, shape ``(batch,)``."""

    @abc.abstractmethod
    def kl_divergence(self, params: dict[str, Array], priors: dict[str, ArrayLike]) -> Array:
        """``KL(p || q)`` of each distribution ``p`` from the prior ``q``, shape ``(batch,)``.

        ``priors`` has the keys of ``params``; its arrays broadcast against them.
        """

    @abc.abstractmethod
    def default_priors(self) -> dict[str, Array]:
        """The reference distribution of the family (standard normal, or uniform)."""

    def check(self, x: ArrayLike, name: str) -> Array:
        """Return ``x`` as an array after checking it is a batch of variates of this family.

        Args:
            x: The batch to check.
            name: What ``x`` is, for the error message.

        Returns:
            ``x`` as a JAX array.

        Raises:
            ValueError: If ``x`` does not have shape ``(batch, *event_shape)``.
        """
        x = jnp.asarray(x)
        if x.ndim < 1 or x.shape[1:] != self.event_shape:
            raise ValueError(
                f"{name} has shape {x.shape}, expected (batch, *{self.event_shape}) for {self}"
            )
        return x


class NormalDist(AbstractProbaDist):
    """Diagonal normal distribution over real arrays, parametrised by ``{"mu", "logvar"}``.

    ``mu`` and ``logvar`` have the shape of the variates. The log-variance is used as given: it is
    neither bounded nor clipped, and samples are not clipped to a Box's bounds. (A model that
    needs a variance floor should build one into its ``func``.)

    Attributes:
        shape: The shape of one variate.
    """

    shape: tuple[int, ...] = eqx.field(static=True)
    param_names = ("mu", "logvar")

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one variate."""
        return self.shape

    @property
    def num_params(self) -> int:
        """``2 * size``: the means, then the log-variances."""
        return 2 * math.prod(self.shape)

    def flatten(self, x: ArrayLike) -> Array:
        """Reshape a batch to ``(batch, size)`` floats."""
        x = jnp.asarray(x)
        return x.reshape(x.shape[0], math.prod(self.shape)).astype(jnp.result_type(float))

    def params_from_raw(self, raw: Array) -> dict[str, Array]:
        """Split ``(batch, 2 * size)`` outputs into ``mu`` (first half) and ``logvar``."""
        size = math.prod(self.shape)
        batch_shape = (raw.shape[0], *self.shape)
        return {
            "mu": raw[:, :size].reshape(batch_shape),
            "logvar": raw[:, size:].reshape(batch_shape),
        }

    def log_prob(self, params: dict[str, Array], x: ArrayLike) -> Array:
        """Exact Gaussian log-density, constant ``-0.5 * log(2 pi)`` per coordinate included."""
        x = self.check(x, "target")
        mu, logvar = params["mu"], params["logvar"]
        return -0.5 * _sum_event(_LOG_2PI + logvar + jnp.square(x - mu) * jnp.exp(-logvar))

    def sample(self, params: dict[str, Array], key: Array) -> Array:
        """Draw ``mu + exp(logvar / 2) * eps`` with standard normal ``eps``."""
        mu, logvar = params["mu"], params["logvar"]
        return mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)

    def mode(self, params: dict[str, Array]) -> Array:
        """The mean ``mu``."""
        return params["mu"]

    def flat_mean(self, params: dict[str, Array]) -> Array:
        """The mean ``mu`` as ``(batch, size)``."""
        return self.flatten(params["mu"])

    def entropy(self, params: dict[str, Array]) -> Array:
        """``0.5 * sum(log(2 pi e) + logvar)``."""
        return 0.5 * _sum_event(_LOG_2PI + 1 + params["logvar"])

    def kl_divergence(self, params: dict[str, Array], priors: dict[str, ArrayLike]) -> Array:
        """Closed-form KL divergence between diagonal normals."""
        mu, logvar = params["mu"], params["logvar"]
        mu_q = jnp.broadcast_to(jnp.asarray(priors["mu"]), mu.shape)
        logvar_q = jnp.broadcast_to(jnp.asarray(priors["logvar"]), logvar.shape)
        ratio = (jnp.exp(logvar) + jnp.square(mu - mu_q)) * jnp.exp(-logvar_q)
        return 0.5 * _sum_event(logvar_q - logvar + ratio - 1)

    def default_priors(self) -> dict[str, Array]:
        """The standard normal: ``mu = 0``, ``logvar = 0``."""
        return {"mu": jnp.zeros(self.shape), "logvar": jnp.zeros(self.shape)}


class CategoricalDist(AbstractProbaDist):
    """Categorical distribution over ``{start, ..., start + n - 1}`` with parameters ``{"logits"}``.

    Variates are integers of shape ``(batch,)``; ``logits`` has shape ``(batch, n)``. A variate
    outside the range is encoded as the zero vector and so has log-probability 0: values are not
    range-checked inside compiled code.

    Attributes:
        n: The number of categories.
        start: The smallest category.
    """

    n: int = eqx.field(static=True)
    start: int = eqx.field(static=True, default=0)
    param_names = ("logits",)

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Variates are scalars."""
        return ()

    @property
    def num_params(self) -> int:
        """``n`` logits."""
        return self.n

    def flatten(self, x: ArrayLike) -> Array:
        """One-hot encode a batch of categories (cast to integers) as ``(batch, n)`` floats."""
        return jax.nn.one_hot(jnp.asarray(x).astype(int) - self.start, self.n)

    def params_from_raw(self, raw: Array) -> dict[str, Array]:
        """The raw outputs are the logits."""
        return {"logits": raw}

    def log_prob(self, params: dict[str, Array], x: ArrayLike) -> Array:
        """``log_softmax(logits)[x - start]``."""
        x = self.check(x, "target")
        return jnp.sum(self.flatten(x) * jax.nn.log_softmax(params["logits"]), axis=-1)

    def sample(self, params: dict[str, Array], key: Array) -> Array:
        """Draw one category per sample."""
        return jax.random.categorical(key, params["logits"]) + self.start

    def mode(self, params: dict[str, Array]) -> Array:
        """The category with the largest logit."""
        return jnp.argmax(params["logits"], axis=-1) + self.start

    def flat_mean(self, params: dict[str, Array]) -> Array:
        """The probabilities ``softmax(logits)`` (the mean of the one-hot encoding)."""
        return jax.nn.softmax(params["logits"])

    def entropy(self, params: dict[str, Array]) -> Array:
        """``-sum(p * log p)``."""
        log_p = jax.nn.log_softmax(params["logits"])
        return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)

    def kl_divergence(self, params: dict[str, Array], priors: dict[str, ArrayLike]) -> Array:
        """``sum(p * (log p - log q))``."""
        log_p = jax.nn.log_softmax(params["logits"])
        log_q = jax.nn.log_softmax(jnp.asarray(priors["logits"]))
        return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)

    def default_priors(self) -> dict[str, Array]:
        """The uniform distribution: zero logits."""
        return {"logits": jnp.zeros(self.n)}


def proba_dist(space: gymnasium.spaces.Space) -> AbstractProbaDist:
    """The distribution family jumpax uses for the variates of a Gymnasium space.

    Args:
        space: A Gymnasium space.

    Returns:
        :class:`CategoricalDist` for ``Discrete``; :class:`NormalDist` over the space's shape for
        ``Box``; for any other space, :class:`NormalDist` over
        ``gymnasium.spaces.flatten_space(space)``.

    Raises:
        ValueError: If the space cannot be flattened to a Box.
    """
    if isinstance(space, gymnasium.spaces.Discrete):
        return CategoricalDist(int(space.n), int(space.start))
    if not isinstance(space, gymnasium.spaces.Box):
        flat = gymnasium.spaces.flatten_space(space)
        if not isinstance(flat, gymnasium.spaces.Box):
            raise ValueError(f"cannot use {space}: it does not flatten to a Box")
        space = flat
    return NormalDist(tuple(int(d) for d in space.shape))


class ConcatInputs(eqx.Module):
    """Adapt a module of one vector to the ``func(s, a)`` convention of the dynamics models.

    Example:
        >>> import equinox as eqx, jax
        >>> func = ConcatInputs(eqx.nn.MLP(3 + 1, 3, 32, 2, key=jax.random.key(0)))

    Attributes:
        module: A callable pytree applied to ``concatenate([s, a])``.
    """

    module: PyTree

    def __call__(self, s: Array, a: Array) -> Array:
        """Apply ``module`` to the concatenated observation and action vectors."""
        return self.module(jnp.concatenate([s, a]))


class Forward(eqx.Module):
    """The pure forward pass of a dynamics model: everything but its parameters and state.

    Usable inside JAX transformations with explicit parameters, e.g.
    ``model.forward(params, model.function_state, S, A)``.

    Attributes:
        static: The non-trainable part of ``func`` (see :func:`equinox.partition`).
        observation: The distribution family of the observation space (input encoding).
        action: The distribution family of the action space (input encoding).
        target: The distribution family of the predicted quantity.
        stochastic: Whether the outputs are distribution parameters (else point predictions).
        stateful: Whether ``func`` takes and returns a state.
        takes_key: Whether ``func`` takes a ``key`` keyword (for randomness such as dropout).
    """

    static: PyTree
    observation: AbstractProbaDist
    action: AbstractProbaDist
    target: AbstractProbaDist
    stochastic: bool = eqx.field(static=True)
    stateful: bool = eqx.field(static=True)
    takes_key: bool = eqx.field(static=True)

    def __call__(
        self,
        params: PyTree,
        function_state: PyTree,
        S: ArrayLike,
        A: ArrayLike,
        *,
        inference: bool = True,
        key: Array | None = None,
    ) -> tuple[Array | dict[str, Array], PyTree]:
        """Apply ``func`` to a batch.

        Args:
            params: The trainable arrays of ``func``.
            function_state: The forward-pass state (``{}`` for a stateless ``func``).
            S: A batch of observations.
            A: A batch of actions.
            inference: Run ``func`` in inference mode (predictions) or as given (training).
            key: With a ``func`` that takes ``key``, the key split into one per example (each
                example gets its own); ``None`` passes ``key=None``, as inference needs.

        Returns:
            ``(outputs, function_state)``: point predictions shaped like a batch of targets, or a
            dict of distribution parameters; and the new state.

        Raises:
            ValueError: If ``S`` or ``A`` have the wrong shape, or their batch sizes differ.
        """
        S, A = self.observation.check(S, "S"), self.action.check(A, "A")
        if S.shape[0] != A.shape[0]:
            raise ValueError(f"S and A have different batch sizes: {S.shape[0]} != {A.shape[0]}")
        s, a = self.observation.flatten(S), self.action.flatten(A)
        func = eqx.combine(params, self.static)
        if inference:
            func = eqx.nn.inference_mode(func)
        keys = None
        if self.takes_key and key is not None:
            keys = jax.random.split(key, S.shape[0])

        def one(s: Array, a: Array, state: PyTree, k: Array | None) -> Any:
            inputs = (s, a, state) if self.stateful else (s, a)
            return func(*inputs, key=k) if self.takes_key else func(*inputs)

        in_axes = (0, 0, None, None if keys is None else 0)
        if self.stateful:
            batched = jax.vmap(one, axis_name="batch", in_axes=in_axes, out_axes=(0, None))
            raw, function_state = batched(s, a, function_state, keys)
        else:
            raw = jax.vmap(one, in_axes=in_axes)(s, a, None, keys)
        return self._outputs(raw), function_state

    def _outputs(self, raw: Array | dict[str, Array]) -> Array | dict[str, Array]:
        """Checks ``func``'s batched outputs and shapes them as predictions or parameters."""
        if isinstance(raw, dict):
            names = getattr(self.target, "param_names", ())
            if not self.stochastic or set(raw) != set(names):
                expected = f"a dict with keys {list(names)}" if self.stochastic else "an array"
                raise ValueError(
                    f"func returned a dict with keys {sorted(raw)}, expected {expected} for "
                    f"{self.target}"
                )
            raw = jnp.concatenate(
                [jnp.reshape(raw[name], (raw[name].shape[0], -1)) for name in names], axis=1
            )
        raw = raw.reshape(raw.shape[0], math.prod(raw.shape[1:]))
        expected = self.target.num_params if self.stochastic else math.prod(self.target.event_shape)
        if raw.shape[1] != expected:
            raise ValueError(
                f"func returned {raw.shape[1]} numbers per example, expected {expected} for "
                f"{'distribution parameters of ' if self.stochastic else 'a point prediction in '}"
                f"{self.target}"
            )
        if self.stochastic:
            return self.target.params_from_raw(raw)
        return raw.reshape(raw.shape[0], *self.target.event_shape)


def _predict(
    forward: Forward,
    head: Callable[..., Any],
    params: PyTree,
    function_state: PyTree,
    S: ArrayLike,
    A: ArrayLike,
    *args: Any,
) -> Any:
    """Run ``forward`` in inference mode, then ``head(outputs, *args)``."""
    outputs, _ = forward(params, function_state, S, A, inference=True)
    return head(outputs, *args)


def _takes_key(func: Callable[..., Any]) -> bool:
    """Whether ``func`` accepts a ``key`` keyword argument."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "key" in parameters


def _identity(x: Any) -> Any:
    return x


def _check_replacement(name: str, old: PyTree, new: PyTree) -> None:
    """Refuse a replacement pytree whose structure or array shapes differ from the current one."""
    old_def, new_def = jax.tree.structure(old), jax.tree.structure(new)
    if old_def != new_def:
        raise ValueError(f"new {name} has tree structure {new_def}, expected {old_def}")
    old_shapes = [jnp.shape(x) for x in jax.tree.leaves(old)]
    new_shapes = [jnp.shape(x) for x in jax.tree.leaves(new)]
    if old_shapes != new_shapes:
        raise ValueError(f"new {name} has array shapes {new_shapes}, expected {old_shapes}")


class AbstractDynamicsModel(abc.ABC):
    """Base of the dynamics models: a stateful wrapper around an Equinox module ``func``.

    Subclasses fix what is predicted (``target_field``: the field of a
    :class:`~jumpax.transitions.TransitionBatch` the model is trained on) and whether it is
    stochastic.

    Args:
        func: An Equinox module (or any callable pytree) applied to one example ``(s, a)``.
        observation_space: The Gymnasium space of the observations.
        action_space: The Gymnasium space of the actions.
        state: The initial state of a stateful ``func`` (see the module docstring); ``None`` for
            a stateless one.

    Raises:
        ValueError: If ``func``'s output does not have the number of values the model needs, or a
            deterministic model is asked to predict a ``Discrete`` observation.
    """

    target_field: ClassVar[str]
    stochastic: ClassVar[bool]

    def __init__(
        self,
        func: PyTree,
        observation_space: gymnasium.spaces.Space,
        action_space: gymnasium.spaces.Space,
        *,
        state: eqx.nn.State | None = None,
    ):
        self.observation_space = observation_space
        self.action_space = action_space
        observation = proba_dist(observation_space)
        target = observation if self.target_field == "S_next" else NormalDist(())
        if not (self.stochastic or isinstance(target, NormalDist)):
            raise ValueError(
                f"{type(self).__name__} predicts real values, but the observation space "
                f"{observation_space} is Discrete; use StochasticTransitionModel"
            )
        params, static = eqx.partition(func, eqx.is_inexact_array)
        action = proba_dist(action_space)
        stateful = state is not None
        self.forward = Forward(
            static, observation, action, target, self.stochastic, stateful, _takes_key(func)
        )
        self._params = params
        self._function_state = {} if state is None else state
        examples = [
            jax.ShapeDtypeStruct((1, *dist.event_shape), jnp.float32)
            for dist in (observation, action)
        ]
        jax.eval_shape(self.forward, params, self._function_state, *examples)
        self._predict = jax.jit(ft.partial(_predict, self.forward), static_argnums=0)

    @property
    def params(self) -> PyTree:
        """The trainable arrays of ``func`` (``None`` where ``func`` holds a non-array)."""
        return self._params

    @params.setter
    def params(self, new_params: PyTree) -> None:
        _check_replacement("params", self._params, new_params)
        self._params = new_params

    @property
    def function_state(self) -> PyTree:
        """The forward-pass state of ``func``: an :class:`equinox.nn.State`, or ``{}``."""
        return self._function_state

    @function_state.setter
    def function_state(self, new_state: PyTree) -> None:
        _check_replacement("function_state", self._function_state, new_state)
        self._function_state = new_state

    @property
    def func(self) -> PyTree:
        """``func`` with the current parameters."""
        return eqx.combine(self._params, self.forward.static)

    def _apply(self, S: ArrayLike, A: ArrayLike, head: Callable[..., Any], *args: Any) -> Any:
        return self._predict(head, self._params, self._function_state, S, A, *args)


class AbstractDeterministicModel(AbstractDynamicsModel):
    """A model that predicts its target directly: ``model(S, A)``."""

    stochastic = False

    def __call__(self, S: ArrayLike, A: ArrayLike) -> Array:
        """Predict the target of each ``(s, a)`` in a batch.

        Args:
            S: A batch of observations.
            A: A batch of actions.

        Returns:
            The predictions, shape ``(batch, *target_shape)``.
        """
        return self._apply(S, A, _identity)


class AbstractStochasticModel(AbstractDynamicsModel):
    """A model that predicts a distribution over its target."""

    stochastic = True

    @property
    def distribution(self) -> AbstractProbaDist:
        """The distribution family of the target."""
        return self.forward.target

    def dist_params(self, S: ArrayLike, A: ArrayLike) -> dict[str, Array]:
        """The distribution parameters for each ``(s, a)`` in a batch.

        Args:
            S: A batch of observations.
            A: A batch of actions.

        Returns:
            ``{"mu", "logvar"}`` (real targets) or ``{"logits"}`` (Discrete observations).
        """
        return self._apply(S, A, _identity)

    def sample(self, S: ArrayLike, A: ArrayLike, key: Array) -> Array:
        """Draw one target per ``(s, a)``.

        Args:
            S: A batch of observations.
            A: A batch of actions.
            key: A JAX random key.

        Returns:
            A batch of sampled targets.
        """
        return self._apply(S, A, self.distribution.sample, key)

    def mode(self, S: ArrayLike, A: ArrayLike) -> Array:
        """The most probable target of each ``(s, a)`` (the mean for a normal distribution).

        Args:
            S: A batch of observations.
            A: A batch of actions.

        Returns:
            A batch of targets.
        """
        return self._apply(S, A, self.distribution.mode)

    def log_prob(self, S: ArrayLike, A: ArrayLike, target: ArrayLike) -> Array:
        """The exact log-probability of ``target`` given ``(s, a)``, per sample.

        Args:
            S: A batch of observations.
            A: A batch of actions.
            target: A batch of targets (next observations, or rewards).

        Returns:
            Log-densities (real targets) or log-masses (Discrete), shape ``(batch,)``.

        Raises:
            ValueError: If ``target`` is not a batch of targets of the model's space.
        """
        return self._apply(S, A, self.distribution.log_prob, target)


class TransitionModel(AbstractDeterministicModel):
    """Deterministic model of the next observation: ``model(S, A)`` predicts ``S_next``.

    ``func`` returns ``flatdim(observation_space)`` numbers; the observation space must be
    real-valued (a ``Box``, or a composite space that flattens to one).
    """

    target_field = "S_next"


class StochasticTransitionModel(AbstractStochasticModel):
    """Stochastic model of the next observation, ``p(s' | s, a)``.

    A diagonal normal (``func`` returns ``2 * flatdim`` numbers: means, then log-variances) for a
    real observation space; a categorical (``func`` returns ``n`` logits) for a ``Discrete`` one.
    """

    target_field = "S_next"


class RewardFunction(AbstractDeterministicModel):
    """Deterministic reward model: ``model(S, A)`` predicts ``Rn``, shape ``(batch,)``.

    ``func`` returns one number (shape ``()`` or ``(1,)``).
    """

    target_field = "Rn"


class StochasticRewardFunction(AbstractStochasticModel):
    """Stochastic reward model: a normal distribution ``p(r | s, a)`` over the scalar reward.

    ``func`` returns two numbers: the mean and the log-variance.
    """

    target_field = "Rn"
