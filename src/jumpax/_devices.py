"""One XLA CPU device per core, chosen when jumpax is imported.

XLA shows a CPU host as one device unless asked for more, and :func:`jumpax.simulate` shards an
ensemble over the local devices, so by default a plain script would simulate on one core. On
import, jumpax asks JAX for one CPU device per core available to the process
(``jax_num_cpu_devices``), unless

- ``XLA_FLAGS`` holds ``--xla_force_host_platform_device_count``, or the program already set
  ``jax_num_cpu_devices``: their choice stands,
- the environment variable ``JUMPAX_CPU_DEVICES`` gives the count (``1`` opts out),
- JAX's backend has already started (a JAX computation ran before ``import jumpax``): the
  count can no longer change, and jumpax uses the devices there are.

Only the CPU backend is affected: on GPU hosts the GPUs are the devices.
"""

from __future__ import annotations

import os

import jax

VARIABLE = "JUMPAX_CPU_DEVICES"
"""The environment variable that sets the CPU device count (``1``: one device, the opt-out)."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def requested_devices() -> int | None:
    """The CPU device count jumpax should ask for, or ``None`` where another choice stands.

    Raises:
        ValueError: if ``JUMPAX_CPU_DEVICES`` is set to anything but a positive integer.
    """
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    if jax.config.jax_num_cpu_devices != -1:
        return None
    setting = os.environ.get(VARIABLE, "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"{VARIABLE} must be a positive integer, got {setting!r}")
        return int(setting)
    return available_cores()


def use_every_core() -> int | None:
    """Asks JAX for :func:`requested_devices` CPU devices, if its backend has not started.

    Returns:
        The count set, or ``None`` when another choice stands or the backend had already
        started (then the devices stay as they are).
    """
    count = requested_devices()
    if count is None:
        return None
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backend has started: the device count is fixed
        return None
    return count


CHOSEN = use_every_core()
"""The CPU device count jumpax set on import, or ``None`` where another choice stood."""
