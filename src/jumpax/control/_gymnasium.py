"""The Gymnasium face of a :class:`~jumpax.control.ControlEnv`.

:class:`ReactionNetworkEnv` steps one environment at a time through the same compiled
functional ``reset`` and ``step``; an episode after ``reset(seed=s)`` is the functional episode
with key ``jax.random.key(s)`` (:func:`jumpax.control.rollout`'s key chain).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import gymnasium
import jax
import numpy as np

from ._env import ControlEnv

__all__ = ["ReactionNetworkEnv"]


@eqx.filter_jit
def _reset(env: ControlEnv, key):
    reset_key, key = jax.random.split(key)
    obs, state = env.reset(reset_key)
    return obs, state, key


@eqx.filter_jit
def _step(env: ControlEnv, key, state, action):
    step_key, key = jax.random.split(key)
    obs, state, reward, done, info = env.step(step_key, state, action)
    return obs, state, reward, done, info, key


class ReactionNetworkEnv(gymnasium.Env):
    """A Gymnasium environment over a functional :class:`~jumpax.control.ControlEnv`.

    Observations are float32 counts of the observed species (with measurement noise if the
    environment has any); actions a float32 ``Box`` with one entry per input (clipped to the
    bounds). Episodes end by truncation after ``env.horizon`` steps; there is no terminal state.
    ``info`` holds the step's ``cost``, the set-point ``reference``, the ``action`` applied, the
    true counts ``x`` and the sampling time ``k`` (``x`` and ``k`` also after ``reset``).

    Attributes:
        env: The functional environment.
    """

    metadata = {"render_modes": []}

    def __init__(self, env: ControlEnv):
        """Wrap a functional environment."""
        if not isinstance(env, ControlEnv):
            raise TypeError(f"ReactionNetworkEnv wraps a jumpax.control.ControlEnv, got {env!r}")
        self.env = env
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self._key = None
        self._state = None
        self._done = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``seed`` fixes it (the functional episode of ``key(seed)``)."""
        super().reset(seed=seed)
        if seed is not None:
            key = jax.random.key(seed)
        elif self._key is None:
            key = jax.random.key(int(self.np_random.integers(2**31)))
        else:
            key = self._key
        obs, self._state, self._key = _reset(self.env, key)
        self._done = False
        return np.asarray(obs, np.float32), {"x": np.asarray(self._state.x), "k": 0}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One sampling interval: ``(obs, reward, terminated, truncated, info)``.

        Raises:
            RuntimeError: if called before ``reset`` or after the episode ended.
            ValueError: for an action of the wrong shape or a non-finite action.
        """
        if self._done:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        action = np.asarray(action, np.float32)
        if action.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {self.action_space.shape}, got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"actions must be finite, got {action}")
        obs, self._state, reward, done, info, self._key = _step(
            self.env, self._key, self._state, action
        )
        self._done = bool(done)
        info = {name: np.asarray(value) for name, value in info.items()}
        info["x"] = np.asarray(self._state.x)
        info["k"] = int(self._state.k)
        return np.asarray(obs, np.float32), float(reward), False, self._done, info
