"""Derivative-free gradient estimators: central finite differences and SPSA.

Both differentiate ``func`` with respect to its first argument, a pytree (for example a
:class:`~jumpax.ReactionNetwork`, an array of log-rates or a plain Python float): its
floating-point leaves (arrays and Python floats) are perturbed and the result has the same
structure, with ``None`` for every other leaf (as ``equinox.filter_grad``). All perturbed
evaluations run as one ``jax.vmap``-ed batch, so ``func`` must be a JAX-traceable function
returning a scalar.

Steps are relative: component ``j`` moves by ``epsilon * |x_j|`` (``epsilon`` where
``x_j = 0``), so one ``epsilon`` suits rates of any magnitude. The default ``epsilon`` is
``eps ** (1/3)`` of the parameters' dtype (about ``4.9e-3`` in float32, ``6e-6`` in float64),
the step that balances the central difference's truncation error against rounding. Each
difference is divided by the step as actually represented (``(x + h) - (x - h)``), not by the
nominal ``2 h``.

For a stochastic ``func(params, key, ...)`` pass the same key to every evaluation (common random
numbers): the differences then measure the effect of the parameters, not of the noise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, PRNGKeyArray

from .._checks import check_int

__all__ = ["gradfd", "gradspsa"]


def _check_epsilon(epsilon: float | None) -> None:
    if epsilon is not None and (not np.isfinite(epsilon) or epsilon <= 0):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")


def _is_parameter(leaf: Any) -> bool:
    """Floating-point array leaves and Python floats are differentiated."""
    return eqx.is_inexact_array(leaf) or (isinstance(leaf, float))


def _directional_derivatives(
    func: Callable[..., Array],
    x: Any,
    directions: Callable[[int, Any], Array],
    epsilon: float | None,
    args: tuple,
    kwargs: dict,
    batched_args: tuple = (),
) -> tuple[Array, Array, Callable[[Array], Any]]:
    """Central differences ``f(x + h d) - f(x - h d)`` along many directions ``d``.

    Component ``j`` of ``x`` moves by ``h_j = epsilon * |x_j|`` times ``d_j``.

    Args:
        func: the scalar function, differentiated in its first argument.
        x: the point, a pytree.
        directions: ``directions(size, dtype)`` returns the ``(n_directions, size)`` directions
            (entries 0 or +-1) in the space of ``x``'s flattened floating-point leaves.
        epsilon: the relative step; ``None`` for ``eps ** (1/3)`` of the dtype.
        args: further positional arguments, shared by all evaluations.
        kwargs: keyword arguments, shared by all evaluations.
        batched_args: positional arguments with one entry per direction (leading axis),
            passed before ``args``.

    Returns:
        ``(differences, spans, unravel)``: the ``(n_directions,)`` differences
        ``f(x + h d) - f(x - h d)``, the ``(n_directions, size)`` spans
        ``(x + h d) - (x - h d)`` as represented, and the map from a flat vector back to a
        pytree.
    """
    params, static = eqx.partition(x, _is_parameter)
    params = jax.tree.map(jnp.asarray, params)
    flat, unravel = ravel_pytree(params)
    if epsilon is None:
        epsilon = float(np.finfo(flat.dtype).eps) ** (1 / 3)
    steps = directions(flat.size, flat.dtype) * (epsilon * jnp.where(flat != 0, jnp.abs(flat), 1))

    def evaluate(flat_params: Array, call_args: tuple) -> Array:
        """``func`` at the flat parameters, checked to be a scalar."""
        value = jnp.asarray(func(eqx.combine(unravel(flat_params), static), *call_args, **kwargs))
        if value.shape != ():
            raise ValueError(f"func must return a scalar, got shape {value.shape}")
        return value

    def evaluate_at(flat_params: Array, *per_direction: Any) -> Array:
        return evaluate(flat_params, (*per_direction, *args))

    # One batch of 2 n evaluations (x + h d, then x - h d): one trace, one compilation.
    upper, lower = flat + steps, flat - steps
    twice = jax.tree.map(lambda a: jnp.concatenate([a, a]), batched_args)
    plus, minus = jnp.split(jax.vmap(evaluate_at)(jnp.concatenate([upper, lower]), *twice), 2)
    return plus - minus, upper - lower, unravel


def gradfd(func: Callable[..., Array], epsilon: float | None = None) -> Callable[..., Any]:
    """Compute the gradient of a function using central first order finite differences.

    Component ``j`` is ``(f(x + h_j e_j) - f(x - h_j e_j)) / (2 h_j)`` with the relative step
    ``h_j = epsilon * |x_j|``: ``2 n`` evaluations for ``n`` parameters, with error
    ``O(h**2)`` for smooth ``func``. The default ``epsilon`` suits the dtype (see the module
    docstring): ``gradfd(lambda k: k**2)(1000.0)`` is 2000 in float32. For a stochastic
    ``func``, pass a fixed key (common random numbers) and a larger ``epsilon``: the estimate
    then differentiates that key's sample.

    NOTE: only supports differentiation with respect to the first argument of ``func``.

    Example:
        >>> gradfd(lambda k: k**2)(3.0)
        Array(6., dtype=float32)

    Args:
        func: the function to differentiate. Should take a PyTree of arrays (or a float) as
            input and return a scalar.
        epsilon: the relative step size; ``None`` (default) for ``eps ** (1/3)`` of the
            parameters' dtype.

    Returns:
        A function that takes the same arguments as ``func`` and returns the gradient of
        ``func`` at that point as a PyTree with the same structure as the input.

    Raises:
        ValueError: for a non-positive ``epsilon``; the returned function raises it when
            ``func`` does not return a scalar.
    """
    _check_epsilon(epsilon)

    def unit_vectors(size: int, dtype: Any) -> Array:
        return jnp.eye(size, dtype=dtype)

    def grad_fn(x: Any, *args: Any, **kwargs: Any) -> Any:
        differences, spans, unravel = _directional_derivatives(
            func, x, unit_vectors, epsilon, args, kwargs
        )
        return unravel(differences / jnp.diagonal(spans))

    return grad_fn


def gradspsa(
    func: Callable[..., Array],
    epsilon: float | None = None,
    num_samples: int = 20,
    *,
    split_first_arg_key: bool = True,
) -> Callable[..., Any]:
    """Compute the gradient of a function using SPSA (simultaneous perturbation).

    Each sample perturbs all parameters at once along a random direction ``d`` of independent
    ``+-1`` entries, component ``j`` by ``h_j d_j`` with the relative step
    ``h_j = epsilon * |x_j|``, and estimates
    ``grad_j f ~ (f(x + h d) - f(x - h d)) / (2 h_j d_j)``;
    the estimate is the mean over ``num_samples`` directions. It costs ``2 * num_samples``
    evaluations whatever the number of parameters, is unbiased up to ``O(eps**2)`` and its
    error shrinks like ``1 / sqrt(num_samples)``.

    NOTE: only supports differentiation with respect to the first argument of ``func``.

    Example:
        >>> def mean_final(log_rates, key):
        ...     ...  # simulate with exp(log_rates) using key, return a scalar
        >>> grad_fn = gradspsa(mean_final, epsilon=0.05, num_samples=100)
        >>> g = grad_fn(log_rates, sim_key, key=spsa_key)

    Args:
        func: the function to differentiate. Should take a PyTree of arrays as input and return
            a scalar.
        epsilon: the relative perturbation size; ``None`` (default) for ``eps ** (1/3)`` of
            the parameters' dtype (use a larger one for a stochastic ``func``).
        num_samples: number of SPSA samples to average over.
        split_first_arg_key: if True, the first positional argument after the differentiated
            one is taken to be a PRNG key for ``func`` and split into ``num_samples``
            independent keys, one per SPSA sample. The same per-sample key is used for both
            the + and - perturbations (common random numbers) to reduce variance. If False,
            the exact same arguments are used for all SPSA samples.

    Returns:
        ``grad_fn(x, *args, key, **kwargs)``: takes the same arguments as ``func`` plus the
        keyword-only PRNG key ``key`` that draws the perturbation directions, and returns the
        gradient estimate as a PyTree with the same structure as ``x``.

    Raises:
        ValueError: for a non-positive ``epsilon`` or ``num_samples``; the returned function
            raises it when ``split_first_arg_key`` is set but no key follows ``x``.
    """
    _check_epsilon(epsilon)
    check_int("num_samples", num_samples, minimum=1)

    def grad_fn(x: Any, *args: Any, key: PRNGKeyArray, **kwargs: Any) -> Any:
        batched_args: tuple = ()
        if split_first_arg_key:
            if not args:
                raise ValueError(
                    "split_first_arg_key=True: pass func's PRNG key as the first argument after "
                    "the differentiated one, grad_fn(x, func_key, ..., key=spsa_key)"
                )
            batched_args, args = (jax.random.split(args[0], num_samples),), args[1:]

        def rademacher(size: int, dtype: Any) -> Array:
            return jax.random.rademacher(key, (num_samples, size), dtype=dtype)

        differences, spans, unravel = _directional_derivatives(
            func, x, rademacher, epsilon, args, kwargs, batched_args
        )
        return unravel(jnp.mean(differences[:, None] / spans, axis=0))

    return grad_fn
