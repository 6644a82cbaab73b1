"""Arguments every simulation entry point shares: times, save times, and the overflow warning.

:func:`jumpax.simulate`, :class:`~jumpax.MeanFieldModel` and :class:`~jumpax.LangevinModel`
validate their times and ``save_at`` here, so one model means the same thing in every solver.
"""

from __future__ import annotations

import warnings
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._checks import is_concrete, operand_array

Mode = Literal["events", "grid", "final"]
"""What a simulation records: every event, the state at save times, or the final state."""


class OverflowWarning(UserWarning):
    """The step budget ran out before ``t1``: some trajectories are truncated."""


def times(
    t0: ArrayLike, t1: ArrayLike, save_at: ArrayLike | Literal["final"] | None, dtype: jnp.dtype
) -> tuple[Array, Array, Array | None, Mode]:
    """Validated ``(t0, t1, ts, mode)`` in ``dtype``; ``ts`` is ``None`` unless in grid mode.

    Concrete values stay NumPy arrays (checked on the host, transferred by the compiled call).

    Raises:
        ValueError: for non-scalar, non-finite or unordered times, a ``save_at`` that is not
            ``None``, ``"final"`` or a non-empty increasing 1-D array of finite times in
            ``[t0, t1]``.
    """
    t0 = operand_array(t0, dtype)
    t1 = operand_array(t1, dtype)
    if t0.ndim or t1.ndim:
        raise ValueError("t0 and t1 must be scalars")
    if is_concrete(t0) and is_concrete(t1):
        t0_, t1_ = np.asarray(t0), np.asarray(t1)
        if not (np.isfinite(t0_) and np.isfinite(t1_)):
            raise ValueError(f"t0 and t1 must be finite, got t0={t0_}, t1={t1_}")
        if not t1_ > t0_:
            raise ValueError(f"t1 must be greater than t0, got t0={t0_}, t1={t1_}")
    if save_at is None:
        return t0, t1, None, "events"
    if isinstance(save_at, str):
        if save_at != "final":
            raise ValueError(f"save_at must be None, an array of times or 'final', got {save_at!r}")
        return t0, t1, None, "final"
    ts = operand_array(save_at, dtype)
    if ts.ndim != 1 or ts.shape[0] == 0:
        raise ValueError(f"save_at must be a non-empty 1-D array of times, got shape {ts.shape}")
    if is_concrete(ts):
        values = np.asarray(ts)
        if not np.all(np.isfinite(values)):
            raise ValueError("save_at must contain finite times")
        if np.any(np.diff(values) <= 0):
            raise ValueError(f"save_at must be strictly increasing, got {values}")
        if is_concrete(t0) and is_concrete(t1) and (
            values[0] < np.asarray(t0) or values[-1] > np.asarray(t1)
        ):
            raise ValueError(
                f"save_at must lie in [t0, t1] = [{np.asarray(t0)}, {np.asarray(t1)}], "
                f"got [{values[0]}, {values[-1]}]"
            )
    return t0, t1, ts, "grid"


def _warn(count: int) -> None:
    if count:
        warnings.warn(
            f"{count} trajectories exhausted the max_steps budget before t1 and are truncated "
            "(results.overflow is True for them); increase max_steps",
            OverflowWarning,
            stacklevel=4,
        )


def warn_on_overflow(overflow: Array) -> None:
    """Issues an :class:`OverflowWarning` if any trajectory overflowed (also under ``jit``)."""
    if is_concrete(overflow):
        _warn(int(np.sum(np.asarray(overflow))))
    else:
        # The count, not the flags: a scalar reaches the host without gathering a sharded array.
        jax.debug.callback(lambda count: _warn(int(count)), jnp.sum(overflow, dtype=jnp.int32))
