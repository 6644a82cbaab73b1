"""Input validation shared by the public constructors.

Every check here applies to *concrete* values only: a traced value (inside ``jax.jit`` or
``jax.grad``) cannot be inspected, so it passes through unchecked.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def is_concrete(value: ArrayLike) -> bool:
    """Whether ``value`` holds a concrete (non-traced) value that can be inspected."""
    return not isinstance(value, jax.core.Tracer)


def as_float_array(value: ArrayLike, dtype: jnp.dtype | None = None) -> Array:
    """Converts a parameter to a strongly typed floating-point JAX array.

    Python floats would otherwise become weakly typed arrays, whose compiled signature differs
    from that of an explicit float32 array: the two would compile separately. Concrete values
    are converted on the host, so no conversion needs compiling.

    Args:
        value: the value.
        dtype: the float dtype wanted; default: the value's own float dtype, else JAX's default.
    """
    if dtype is None:
        dtype = getattr(value, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.result_type(float)
    if is_concrete(value) and not isinstance(value, jax.Array):
        return jnp.asarray(np.asarray(value, dtype=dtype))
    return jnp.asarray(value, dtype=dtype)


def operand_array(value: ArrayLike, dtype: jnp.dtype) -> np.ndarray | Array:
    """A float argument for a compiled function: NumPy when concrete, else the traced value.

    Concrete values stay on the host, where they can be checked without device work; the
    compiled function's dispatch transfers them (with a strong dtype, so Python floats and
    float32 arrays share one compiled signature).
    """
    if is_concrete(value):
        return np.asarray(value, dtype=dtype)
    return jnp.asarray(value, dtype=dtype)


def check_scalar(name: str, value: ArrayLike) -> Array:
    """Returns ``value`` as a float array after checking it is a scalar (checked even traced).

    Raises:
        TypeError: if ``value`` is not a number.
        ValueError: if it has a shape: a parameter of shape ``(3,)`` would silently act as
            three parameters.
    """
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{name} must be a number, got {value!r}")
    array = as_float_array(value)
    if array.shape != ():
        raise ValueError(f"{name} must be a scalar, got an array of shape {array.shape}")
    return array


def check_finite_nonnegative(name: str, value: ArrayLike) -> Array:
    """Returns ``value`` as a float scalar after checking it is finite and >= 0.

    Raises:
        TypeError: if ``value`` is not a number.
        ValueError: if ``value`` is not a scalar, or a concrete ``value`` is negative, NaN or
            infinite.
    """
    array = check_scalar(name, value)
    if is_concrete(array):
        check_host_values(name, np.asarray(array))
    return array


def check_host_values(name: str, values: np.ndarray, *, whole: bool = False) -> None:
    """Checks concrete values are finite and >= 0 (and whole numbers, with ``whole``).

    Raises:
        ValueError: naming ``name`` and the offending values.
    """
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got {values}")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative, got {values}")
    if whole and np.any(values != np.round(values)):
        raise ValueError(f"{name} must be whole numbers, got {values}")


def check_positive(name: str, value: ArrayLike) -> Array:
    """Returns ``value`` as a float array after checking it is finite and > 0.

    Raises:
        ValueError: if a concrete ``value`` is not strictly positive and finite.
    """
    array = check_finite_nonnegative(name, value)
    if is_concrete(array) and np.any(np.asarray(array) == 0):
        raise ValueError(f"{name} must be positive, got {np.asarray(array)}")
    return array


def species_position(names: tuple[str, ...], species: int | str) -> int:
    """The position of a species given by name or (possibly negative) index.

    Raises:
        ValueError: for an unknown name or an out-of-range index (JAX indexing would clamp it
            silently).
    """
    if isinstance(species, str):
        if species not in names:
            raise ValueError(f"unknown species {species!r}; known: {list(names)}")
        return names.index(species)
    index = int(species)
    if not -len(names) <= index < len(names):
        raise ValueError(f"species index {index} out of range for {len(names)} species")
    return index % len(names)


def check_positive_int(name: str, value: int | None) -> None:
    """Checks an optional count (``None`` passes).

    Raises:
        TypeError: if ``value`` is not ``None`` and not an integer (``bool`` refused).
        ValueError: if it is an integer below 1.
    """
    if value is not None:
        check_int(name, value, minimum=1)


def check_int(name: str, value: int, *, minimum: int) -> None:
    """Checks an integer argument (Python's convention: wrong type, then wrong value).

    Raises:
        TypeError: if ``value`` is not an integer (``bool`` refused).
        ValueError: if it is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
