"""``simulate``: stochastic simulation of reaction networks, compiled, batched and sharded.

The arguments are checked on the host, then one compiled call runs the loop of
:mod:`jumpax._simulate._loop` over the whole batch, or over one shard of the batch per local
device (``shard_map``). Every trajectory draws from its own random stream, seeded from the key
and its index, so the result never depends on batch size, chunking or the number of devices.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P
from jaxtyping import ArrayLike, PRNGKeyArray

from .. import _random
from .._checks import check_int, check_positive_int
from .._network._network import ReactionNetwork, checked_state
from .._results import SimulationResults
from .._solver._base import AbstractSolver
from .._solver._direct import Direct
from . import _loop
from ._arguments import times, warn_on_overflow
from ._output import EventList, FinalState, Grid

CPU_CHUNK = 1024
"""Most trajectories one loop carries on one CPU device: a larger shard runs as consecutive
chunks of at most this many, whose loop state stays in cache (10,000 trajectories in one loop
per 2 cores ran 17-35% slower per event than 1,000). Accelerators run a shard in one loop."""

DEFAULT_MAX_STEPS_EVENTS = 10_000
"""Default step budget (buffer length) in event-list mode."""

DEFAULT_MAX_STEPS_GRID = 100_000_000
"""Default step budget in grid and final-state modes (no memory cost: only a runaway guard)."""

_INVALID = (
    "an event or assignment rule set a count to a negative, non-integer or non-finite value "
    "(counts must be whole numbers in [0, 2**31))"
)


def simulate(
    key: PRNGKeyArray,
    network: ReactionNetwork,
    x0: ArrayLike | dict[str, int],
    t1: ArrayLike,
    *,
    t0: ArrayLike = 0.0,
    solver: AbstractSolver = Direct(),
    save_at: ArrayLike | Literal["final"] | None = None,
    max_steps: int | None = None,
    num_trajectories: int | None = None,
    first_trajectory: int = 0,
) -> SimulationResults:
    """Simulates a reaction network from ``t0`` to ``t1`` (exactly, with the default solver).

    A key defines an endless ensemble: trajectory ``i`` draws from its own random stream,
    seeded from the key and ``i``. ``num_trajectories=n`` simulates trajectories ``0..n-1``
    (one trajectory: trajectory 0), so any chunk of an ensemble can be recomputed alone with
    ``first_trajectory`` (for progress bars, memory limits or several hosts), and the result
    never depends on batch size or the number of devices.

    Every solver honours the whole model: time events fire exactly at their time, state events
    right after the step that made their trigger true, assignment rules after every change.

    Args:
        key: a JAX PRNG key. The same key gives the same result.
        network: the reaction network.
        x0: initial counts, an array ``(n_species,)`` or a ``{species: count}`` dict; with
            ``num_trajectories`` also ``(num_trajectories, n_species)``.
        t1: the end time (traced: changing it never recompiles).
        t0: the start time.
        solver: an exact solver, :class:`~jumpax.Direct` (default),
            :class:`~jumpax.FirstReaction` or the pathwise :class:`~jumpax.GumbelSoftmaxDirect`,
            or the approximate :class:`~jumpax.TauLeaping` (grid and final modes only).
        save_at: ``None`` for the event list (every event; what ``log_prob`` and the
            REINFORCE losses consume), an increasing array of times in ``[t0, t1]`` for grid
            mode (memory independent of the number of events), or ``"final"`` for the state at
            ``t1`` only.
        max_steps: the per-trajectory step budget. Event-list mode stores ``max_steps`` events
            (default ``DEFAULT_MAX_STEPS_EVENTS`` = 10,000); grid and final modes store nothing
            per event and default to ``DEFAULT_MAX_STEPS_GRID`` = 10**8 as a runaway guard.
            When the budget runs out before ``t1``, ``results.overflow`` is True and an
            :class:`~jumpax.OverflowWarning` is issued.
        num_trajectories: ``None`` for one trajectory, else the ensemble size (every result
            array gets a leading trajectory axis).
        first_trajectory: the index of the first trajectory simulated, in ``[0, 2**32)``.

    Returns:
        :class:`~jumpax.SimulationResults`. Integer solvers return integer counts; grid times
        and final states a truncated trajectory never reached are marked unreached (-1 in
        integer results, NaN in float results).

    Raises:
        ValueError: for a bad initial state, times, ``save_at``, ``max_steps``,
            ``num_trajectories``, ``first_trajectory`` or solver, an event list asked of a
            solver that records none, or an event or assignment rule that sets a count to a
            negative, non-integer or non-finite value (under an outer ``jax.jit`` the last is
            raised as a runtime error when the computation runs).
    """
    check_positive_int("num_trajectories", num_trajectories)
    check_positive_int("max_steps", max_steps)
    check_int("first_trajectory", first_trajectory, minimum=0)
    batch = num_trajectories or 1
    if first_trajectory + batch > 2**32:
        raise ValueError(
            f"trajectory indices must stay below 2**32, got first_trajectory={first_trajectory} "
            f"with {batch} trajectories"
        )
    if not isinstance(solver, AbstractSolver):
        raise TypeError(f"solver must be a jumpax solver such as Direct(), got {solver!r}")
    if not isinstance(network, ReactionNetwork):
        raise TypeError(f"network must be a ReactionNetwork, got {network!r}")
    x0 = checked_state(network.species, x0, integer=solver.integer_counts)
    if num_trajectories is None and x0.ndim == 2:
        raise ValueError(
            f"x0 of shape {tuple(x0.shape)} holds one state per trajectory: "
            f"pass num_trajectories={x0.shape[0]}"
        )
    if x0.ndim == 2 and x0.shape[0] != batch:
        raise ValueError(f"x0 has {x0.shape[0]} initial states for {batch} trajectories")
    t0, t1, ts, mode = times(t0, t1, save_at, jnp.result_type(float))
    if mode == "events" and not solver.records_events:
        raise ValueError(
            f"{type(solver).__name__} records no event list: pass save_at=ts or save_at='final'"
        )
    if max_steps is None:
        max_steps = DEFAULT_MAX_STEPS_EVENTS if mode == "events" else DEFAULT_MAX_STEPS_GRID
    indices = np.arange(first_trajectory, first_trajectory + batch, dtype=np.uint64)
    local_devices = jax.local_devices()
    mesh = None
    # Pathwise solvers are differentiated through the loop, which shard_map does not support.
    if len(local_devices) > 1 and batch >= len(local_devices) and not solver.reverse_differentiable:
        # One shard of the ensemble per device: pad to a multiple of the device count.
        indices = np.concatenate([indices, indices[: (-batch) % len(local_devices)]])
        mesh = _ensemble_mesh(tuple(local_devices))
    flat = _FlatNetwork.of(network)
    traced = any(isinstance(leaf, jax.core.Tracer) for leaf in (
        *flat.arrays, *jax.tree.leaves((key, x0, t0, t1, ts))
    ))
    if traced and not solver.reverse_differentiable:
        # An exact (or leaping) path is a sample: its counts have no pathwise derivative, and
        # REINFORCE differentiates only log_prob of it. Simulating inside a loss then gives
        # the same gradient as simulating outside it.
        flat, x0, t0, t1, ts = _constant((flat, x0, t0, t1, ts))
    solver_arrays, solver_static = eqx.partition(solver, eqx.is_array)
    results, invalid, parameters_ok, trouble = _run(
        key, indices.astype(np.uint32), x0, flat, t0, t1, ts, solver_arrays,
        _Static(solver_static), mode, int(max_steps), mesh, batch, num_trajectories is None,
        traced,
    )
    # One scalar reaches the host when all is well; the flags only when something is wrong.
    if not traced and bool(trouble):
        flags = np.asarray(parameters_ok)
        if not np.all(flags):
            labels = network.parameter_labels
            bad = [label for label, ok in zip(labels, flags, strict=True) if not ok]
            raise ValueError(_parameters_message(bad, "in"))
        if np.any(np.asarray(invalid)):
            raise ValueError(_INVALID)
        warn_on_overflow(results.overflow)
    return results


def _parameters_message(labels: Sequence[str], where: str) -> str:
    return (
        f"parameters outside their domain (negative, zero where they must be positive, or not "
        f"finite) {where}: {', '.join(labels)}; nothing was simulated. An optimizer step can "
        "drive a rate negative: optimize log-rates, or clip the rates after each step"
    )


def _constant(tree):
    """``tree`` with every traced leaf wrapped in ``jax.lax.stop_gradient``."""
    return jax.tree.map(
        lambda leaf: jax.lax.stop_gradient(leaf) if isinstance(leaf, jax.core.Tracer) else leaf,
        tree,
    )


@functools.cache
def _ensemble_mesh(devices: tuple[jax.Device, ...]) -> jax.sharding.Mesh:
    """A one-axis mesh over ``devices`` that ensembles are sharded on."""
    return jax.sharding.Mesh(
        np.asarray(devices), ("trajectories",), axis_types=(jax.sharding.AxisType.Auto,)
    )


class _Static:
    """A hashable static argument whose hash is computed once.

    ``jax.jit`` hashes its static arguments on every call; a network's structure (a tree
    definition and the non-array leaves of every reaction) would cost a deep hash per call.
    Equality checks identity first, so the cached object of a network is matched in O(1).
    """

    __slots__ = ("value", "_hash")

    def __init__(self, value):
        self.value = value
        self._hash = hash(value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return self is other or (
            isinstance(other, _Static) and self._hash == other._hash and self.value == other.value
        )


@jax.tree_util.register_pytree_node_class
class _FlatNetwork:
    """A network as its array leaves and a hashable rest: cheap to pass to a compiled call.

    Flattening a network module visits every reaction and rate law in Python, which costs
    milliseconds per call for hundreds of reactions; the flat form of a network is made once
    and reused while the network lives (networks are immutable).
    """

    _cache: dict[int, tuple[weakref.ref, _FlatNetwork]] = {}

    def __init__(self, arrays: tuple, structure: _Static):
        self.arrays = arrays
        self.structure = structure  # (treedef, which leaves are arrays, the other leaves)

    @classmethod
    def of(cls, network: ReactionNetwork) -> _FlatNetwork:
        """The flat form of ``network`` (cached for networks of concrete arrays)."""
        cached = cls._cache.get(id(network))
        if cached is not None and cached[0]() is network:
            return cached[1]
        leaves, treedef = jax.tree.flatten(network)
        arrays = [eqx.is_array(leaf) for leaf in leaves]
        flat = cls(
            tuple(leaf for leaf, is_array in zip(leaves, arrays, strict=True) if is_array),
            _Static((treedef, tuple(arrays), tuple(
                leaf for leaf, is_array in zip(leaves, arrays, strict=True) if not is_array
            ))),
        )
        if not any(isinstance(a, jax.core.Tracer) for a in flat.arrays):
            key = id(network)
            cls._cache[key] = (weakref.ref(network, lambda _: cls._cache.pop(key, None)), flat)
        return flat

    def network(self) -> ReactionNetwork:
        """The network back."""
        treedef, is_array, others = self.structure.value
        arrays, rest = iter(self.arrays), iter(others)
        return jax.tree.unflatten(
            treedef, [next(arrays) if a else next(rest) for a in is_array]
        )

    def tree_flatten(self):
        """Children: the arrays; auxiliary data: the rest."""
        return self.arrays, self.structure

    @classmethod
    def tree_unflatten(cls, structure, arrays):
        """Rebuilds from :meth:`tree_flatten`'s parts."""
        return cls(tuple(arrays), structure)


@functools.partial(jax.jit, static_argnums=tuple(range(8, 15)))
def _run(
    key, indices, x0, flat, t0, t1, ts, solver_arrays, solver_static, mode, max_steps, mesh,
    batch, single, traced,
):
    """Compiled entry point: the whole batch on one device, or one shard per device.

    A plain ``jax.jit`` with cheaply hashed static arguments (the solver's and the network's
    structure): dispatching a compiled call costs microseconds, which single trajectories and
    small ensembles feel.

    ``indices`` may be padded to a multiple of the device count; the first ``batch``
    trajectories are returned (the first alone, unbatched, with ``single``). Everything here is
    traced, so a first call compiles once and later calls dispatch one computation. With
    ``traced`` (called inside the user's ``jit``, ``vmap`` or ``grad``) the checks are raised
    from inside the computation (:func:`equinox.branched_error_if`), once per ensemble.

    Returns:
        ``(results, invalid, parameters_ok, trouble)``: the results, the invalid-assignment
        flags, the network's parameter checks (see :meth:`ReactionNetwork.parameters_ok`) and
        whether any of them failed or a trajectory overflowed.
    """
    network = flat.network()
    solver = eqx.combine(solver_arrays, solver_static.value)
    # A structural check (features the solver cannot honour): it runs when a new structure
    # is traced, and raises before anything is compiled.
    solver.check(network)
    parameters_ok = network.parameters_ok()
    # Parameters outside their domain: simulate nothing (t1 = t0) and let the caller raise.
    t1 = jnp.where(jnp.all(parameters_ok), t1, t0)
    padded = indices.shape[0]
    words = _random.key_words(key)
    words = jnp.broadcast_to(words, (padded, words.shape[0]))
    if x0.ndim == 1:
        x0 = jnp.broadcast_to(x0, (padded, x0.shape[0]))
    else:
        x0 = jnp.concatenate([x0, x0[: padded - x0.shape[0]]])
    config = _Ensemble(solver, mode, max_steps, mesh, traced)
    ensemble = config if solver.reverse_differentiable else config.vmappable
    results, invalid = ensemble(words, indices, x0, network, t0, t1, ts)
    if single:
        results, invalid = jax.tree.map(lambda leaf: leaf[0], (results, invalid))
    elif padded > batch:
        results, invalid = jax.tree.map(lambda leaf: leaf[:batch], (results, invalid))
    trouble = ~jnp.all(parameters_ok) | jnp.any(invalid) | jnp.any(results.overflow)
    return results, invalid, parameters_ok, trouble


def _packed(tree):
    """``tree``'s array leaves as one flat array per dtype, and how to rebuild ``tree``.

    Returns:
        ``(packed, unpack)``: a dict from dtype name to the concatenated, flattened leaves of
        that dtype, and a function rebuilding the tree from such a dict.
    """
    leaves, treedef = jax.tree.flatten(tree)
    groups: dict[str, list[int]] = {}
    for i, leaf in enumerate(leaves):
        if eqx.is_array(leaf):
            groups.setdefault(jnp.result_type(leaf).name, []).append(i)
    packed = {
        dtype: jnp.concatenate([jnp.ravel(leaves[i]) for i in members])
        for dtype, members in groups.items()
    }

    def unpack(packed):
        rebuilt = list(leaves)
        for dtype, members in groups.items():
            start = 0
            for i in members:
                size = int(np.prod(jnp.shape(leaves[i])))
                rebuilt[i] = packed[dtype][start : start + size].reshape(jnp.shape(leaves[i]))
                start += size
        return jax.tree.unflatten(treedef, rebuilt)

    return packed, unpack


class _Ensemble(eqx.Module):
    """Simulates one trajectory per row of ``(words, indices, x0)``: the compiled core.

    Under ``jax.vmap`` (users who batch ``simulate`` over keys, the stochastix way),
    :meth:`vmappable` folds the mapped axis into the trajectory axis: the vmapped call runs
    the same batched loop as ``num_trajectories`` (same trajectories as per-key calls, bit for
    bit, and the compile time of one ensemble) instead of a vmap of a while loop.
    """

    solver: AbstractSolver
    mode: str = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    mesh: jax.sharding.Mesh | None = eqx.field(static=True)
    traced: bool = eqx.field(static=True)

    def __call__(self, words, indices, x0, network, t0, t1, ts):
        """``(results, invalid)`` with a leading trajectory axis (one per row of ``indices``).

        With :attr:`traced` (inside the user's transformations), bad parameters or an invalid
        assignment anywhere in the ensemble raise a runtime error, and overflows warn: one
        check and one warning for the whole ensemble, even under ``vmap``.
        """
        results, invalid = self._simulate(words, indices, x0, network, t0, t1, ts)
        return self._checked(results, invalid, network.parameters_ok(), network.parameter_labels)

    def _checked(self, results, invalid, parameters_ok, labels):
        """``(results, invalid)``, checked inside the computation when :attr:`traced`.

        Any failed flag in ``parameters_ok`` or any ``invalid`` trajectory raises a runtime
        error; overflows warn.
        """
        if self.traced:
            warn_on_overflow(results.overflow)
            bad_parameters = ~jnp.all(parameters_ok)
            # The check rides on a scalar zero added to the counts: passing the results
            # themselves through the check's conditional would gather sharded results onto
            # one device (and have XLA warn about it) at every call.
            zero = eqx.branched_error_if(
                jnp.zeros((), results.x.dtype),
                bad_parameters | jnp.any(invalid),
                jnp.where(bad_parameters, 0, 1),
                [_parameters_message(labels, "in one of"), _INVALID],
            )
            results = eqx.tree_at(lambda r: r.x, results, results.x + zero)
        return results, invalid

    def _simulate(self, words, indices, x0, network, t0, t1, ts):
        if self.mode == "events":
            make_output = functools.partial(EventList.empty, t0=t0, max_steps=self.max_steps)
        elif self.mode == "grid":
            make_output = functools.partial(Grid.empty, ts, t1=t1)
        else:
            make_output = lambda x0: FinalState()  # noqa: E731

        # The rate parameters are stacked once here, not in every step of the loop.
        network = network.with_rate_table()

        def rows(words, indices, x0, network, t0, t1):
            rng = jax.vmap(_random.seed)(words, indices)
            return _loop.run(network, self.solver, rng, x0, t0, t1, make_output, self.max_steps)

        def local(words, indices, x0, network, t0, t1):
            batch = indices.shape[0]
            if batch <= CPU_CHUNK or jax.default_backend() != "cpu":
                return rows(words, indices, x0, network, t0, t1)
            # Consecutive chunks of equal size; the last rows are repeated to fill them and
            # their copies dropped (each row's trajectory depends on its own words only).
            chunks = -(-batch // CPU_CHUNK)
            size = -(-batch // chunks)
            fill = chunks * size - batch

            def split(value):
                value = jnp.concatenate([value, value[batch - fill :]]) if fill else value
                return value.reshape(chunks, size, *value.shape[1:])

            out = jax.lax.map(
                lambda chunk: rows(*chunk, network, t0, t1), tuple(map(split, (words, indices, x0)))
            )
            return jax.tree.map(lambda leaf: leaf.reshape(-1, *leaf.shape[2:])[:batch], out)

        if self.mesh is None:
            return local(words, indices, x0, network, t0, t1)
        # The network enters as a few packed arrays, not one argument per parameter: the
        # partitioner's cost grows with the arguments (minutes for thousands of reactions).
        packed, unpack = _packed(network)
        sharded, replicated = P("trajectories"), P()
        return jax.shard_map(
            lambda words, indices, x0, packed, t0, t1: local(
                words, indices, x0, unpack(packed), t0, t1
            ),
            mesh=self.mesh,
            in_specs=(sharded,) * 3 + (replicated,) * 3,
            out_specs=sharded,
            check_vma=False,
        )(words, indices, x0, packed, t0, t1)

    def vmappable(self, words, indices, x0, network, t0, t1, ts):
        """:meth:`__call__`, with a vmap rule that folds mapped rows into trajectories."""
        dynamic, static = eqx.partition((self, network), eqx.is_array)

        def call(words, indices, x0, dynamic, t0, t1, ts):
            ensemble, network = eqx.combine(dynamic, static)
            return ensemble(words, indices, x0, network, t0, t1, ts)

        def unchecked(words, indices, x0, dynamic, t0, t1, ts):
            ensemble, network = eqx.combine(dynamic, static)
            results, invalid = ensemble._simulate(words, indices, x0, network, t0, t1, ts)
            return results, invalid, network.parameters_ok()

        folded = jax.custom_batching.custom_vmap(call)

        @folded.def_vmap
        def rule(axis_size, in_batched, words, indices, x0, dynamic, t0, t1, ts):
            rows_only = not any(jax.tree.leaves(in_batched[3:]))
            if not rows_only:
                # Mapped over the network or the times: a vmap of the loop, checked once.
                in_axes = jax.tree.map(lambda b: 0 if b else None, tuple(in_batched))
                results, invalid, parameters_ok = jax.vmap(unchecked, in_axes=in_axes)(
                    words, indices, x0, dynamic, t0, t1, ts
                )
                out = self._checked(results, invalid, parameters_ok, network.parameter_labels)
                return out, jax.tree.map(lambda _: True, out)
            n = indices.shape[-1]

            def fold(value, batched):
                value = value if batched else jnp.broadcast_to(value, (axis_size, *value.shape))
                return value.reshape(axis_size * n, *value.shape[2:])

            rows = [fold(v, b) for v, b in zip((words, indices, x0), in_batched[:3], strict=True)]
            out = folded(*rows, dynamic, t0, t1, ts)
            out = jax.tree.map(lambda leaf: leaf.reshape(axis_size, n, *leaf.shape[1:]), out)
            return out, jax.tree.map(lambda _: True, out)

        return folded(words, indices, x0, dynamic, t0, t1, ts)
