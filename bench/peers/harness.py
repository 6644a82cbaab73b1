"""The shared measurement loop that every adapter runs through (inside a worker process).

A worker measures one (tool, model, output mode) for several ensemble sizes, in increasing
order, and prints one JSON line per size as soon as it is measured, so that the orchestrator
keeps what was measured even when a later size times out.

Per size:

* ``first_s``: the first call at this size (includes compilation for tools that compile per
  shape, as the JAX tools do).
* ``steady_s``: the best of repeated calls adding up to ``MIN_STEADY_S`` (``reps`` of them, at
  most ``MAX_REPS``, all with the seed of the first call; for tools that do not compile per
  size the first call counts too), or, when the first call ran
  longer than ``SINGLE_CALL_S`` (after subtracting the compile time measured at the previous
  size), that run time (``reps`` = 0; ``steady_from`` says which).
* ``compile_s``: ``first_s - steady_s``, plus ``setup_s`` (building the model or solver, e.g.
  gillespy2's C++ build) at the first size.
* ``peak_rss_mb``: peak resident memory of the worker process so far (``ru_maxrss``; sizes run
  in increasing order, so it is the peak of the largest size), plus the peak of the tool's own
  child processes where the adapter reports it.

A size whose call time, extrapolated from the previous size (when that had at least
``MIN_PROBE`` trajectories), exceeds the cap is skipped with the estimate as the reason.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models import Model

MIN_STEADY_S = 1.0
"""Repeat steady calls until they add up to this many seconds (at most ``MAX_REPS``)."""
MAX_REPS = 500
"""Enough calls for a stable best time when a call takes a millisecond or less."""
SINGLE_CALL_S = 20.0
"""A first call longer than this is not repeated (its time minus the previous compile is used)."""
MIN_PROBE = 100
"""Sizes from which the call time of the next (larger) size is extrapolated for the cap."""


@dataclass
class Summary:
    """What one call produced, reduced to the numbers the table needs."""

    n: int
    obs_sum: float
    obs_sumsq: float
    events: float | None
    """Total events over all trajectories, or ``None`` when the tool does not report them."""
    child_peak_mb: float = 0.0
    """Peak memory of processes the tool started (added to the worker's own peak)."""

    @classmethod
    def from_arrays(cls, obs, events=None, child_peak_mb: float = 0.0) -> Summary:
        """Builds a summary from per-trajectory observable values and event counts."""
        obs = np.asarray(obs, dtype=np.float64).reshape(-1)
        total = None if events is None else float(np.sum(np.asarray(events, dtype=np.float64)))
        return cls(obs.size, float(obs.sum()), float((obs**2).sum()), total, child_peak_mb)


class Adapter:
    """Base class of the tool adapters.

    Subclasses set ``name`` and ``unsupported`` (output mode -> reason) and implement
    ``setup`` (build the tool's model; not part of the timed calls except at the first size)
    and ``run`` (simulate ``n`` trajectories and return a :class:`Summary`; the result must be
    complete, e.g. ``block_until_ready`` for JAX, before ``run`` returns).
    """

    name = "?"
    unsupported: dict[str, str] = {}
    compiles_per_size = True
    """Whether a new ensemble size triggers a new compilation (JAX tracing on shapes)."""
    worker_memory_counts = True
    """Whether the worker process's own memory is the tool's (False: only its children)."""

    def version(self) -> str:
        """The tool's version string."""
        from importlib.metadata import version

        return version(self.name)

    def setup(self, model: Model, mode: str) -> None:
        """Builds the tool's representation of ``model`` for output ``mode``."""
        raise NotImplementedError

    def run(self, n: int, seed: int) -> Summary:
        """Simulates ``n`` trajectories with random seed ``seed``."""
        raise NotImplementedError


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Current resident set size of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024.0
    return float("nan")


def descendant_rss_mb(root: int) -> float:
    """Total current RSS (MB) of the processes descended from ``root`` (not ``root`` itself)."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    page_mb = resource.getpagesize() / 2**20
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, ... rss (pages) is the 22nd field.
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * page_mb
    total, frontier = 0.0, {root}
    while frontier:
        children = {pid for pid, ppid in parents.items() if ppid in frontier}
        total += sum(rss.get(pid, 0.0) for pid in children)
        frontier = children
    return total


class ChildMemorySampler:
    """Samples the RSS of this process's descendants every ``interval`` seconds.

    Used for tools that run their simulator as a separate program (gillespy2), whose memory
    ``ru_maxrss`` of the worker does not include.
    """

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import os

        pid = os.getpid()
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, descendant_rss_mb(pid))

    def __enter__(self) -> ChildMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def timed(adapter: Adapter, n: int, seed: int) -> tuple[float, Summary]:
    """Runs one call and returns its wall time and summary."""
    start = time.perf_counter()
    summary = adapter.run(n, seed)
    return time.perf_counter() - start, summary


def emit(record: dict) -> None:
    """Prints one JSON result line for the orchestrator."""
    print(json.dumps(record), flush=True)


def measure_size(adapter: Adapter, n: int, seed: int, compiles: bool,
                 previous_compile_s: float | None) -> dict:
    """Measures one ensemble size: first call, then steady-state call(s).

    ``compiles`` says whether the first call at this size compiles. When the first call's run
    time (its time minus ``previous_compile_s`` if it compiled) exceeds ``SINGLE_CALL_S``, it is
    not repeated and that run time stands for the steady-state time.
    """
    first_s, summary = timed(adapter, n, seed)
    if not compiles:
        run_s, source = first_s, "first call (no compile at this size)"
    elif previous_compile_s is not None:
        run_s, source = first_s - previous_compile_s, "first call minus previous compile"
    else:
        run_s, source = None, ""  # compile time unknown: measure the steady state
    if run_s is not None and run_s > SINGLE_CALL_S:
        return {"first_s": first_s, "steady_s": run_s, "reps": 0, "steady_from": source,
                "summary": summary}
    times = [] if compiles else [first_s]
    reps = 0
    # The first call's seed every time: each call does the same work (the same paths), so the
    # best time and the events of the summary belong together, even for a single trajectory.
    while reps == 0 or (sum(times) < MIN_STEADY_S and reps < MAX_REPS):
        elapsed, summary = timed(adapter, n, seed)
        reps += 1
        times.append(elapsed)
    return {"first_s": first_s, "steady_s": min(times), "reps": reps,
            "steady_from": "best of repeated calls", "summary": summary}


def run_worker(adapter: Adapter, model: Model, mode: str, sizes: list[int],
               cap_s: float, seed: int = 0) -> None:
    """Measures ``adapter`` on ``model``/``mode`` for every size and prints JSON lines."""
    meta = {"n_reactions": len(model.reactions), "n_species": len(model.species),
            "observable": model.observable, "analytic_mean": model.analytic_mean,
            "description": model.description}
    base = {"tool": adapter.name, "model": model.name, "mode": mode, "meta": meta}
    if mode in adapter.unsupported:
        for n in sizes:
            emit({**base, "n": n, "status": "n/a", "reason": adapter.unsupported[mode]})
        return
    try:
        version = adapter.version()
    except Exception:  # a version lookup must never break a measurement
        version = "?"
    start = time.perf_counter()
    adapter.setup(model, mode)
    setup_s = time.perf_counter() - start
    baseline_mb = current_rss_mb()
    rate, rate_n = None, None  # trajectories per second at the last size >= MIN_PROBE
    previous_compile = None
    for index, n in enumerate(sizes):
        record = {**base, "n": n, "version": version, "baseline_rss_mb": baseline_mb}
        expected = None if rate is None else n / rate
        if expected is not None and expected > cap_s:
            emit({**record, "status": "skipped",
                  "reason": f"est. {expected:.0f} s per call > cap {cap_s:.0f} s "
                            f"(from {rate:.3g} traj/s at n={rate_n})"})
            continue
        compiles = adapter.compiles_per_size or index == 0
        try:
            result = measure_size(adapter, n, seed + 1000 * index, compiles, previous_compile)
        except Exception as error:
            emit({**record, "status": "error", "reason": _short_error(error),
                  "traceback": traceback.format_exc()[-4000:]})
            return
        summary: Summary = result.pop("summary")
        compile_s = result["first_s"] - result["steady_s"] + (setup_s if index == 0 else 0.0)
        if result["steady_from"] == "best of repeated calls":
            previous_compile = max(result["first_s"] - result["steady_s"], 0.0)
        # One trajectory says little about a vectorised tool's rate on many: no estimate.
        if n >= MIN_PROBE:
            rate, rate_n = n / result["steady_s"], n
        emit({**record, **result, "status": "ok", "compile_s": compile_s, "setup_s": setup_s,
              "peak_rss_mb": summary.child_peak_mb
              + (peak_rss_mb() if adapter.worker_memory_counts else 0.0),
              "child_peak_mb": summary.child_peak_mb, "events": summary.events,
              "obs_sum": summary.obs_sum, "obs_sumsq": summary.obs_sumsq,
              "n_done": summary.n})


def _short_error(error: BaseException) -> str:
    """One line describing an exception."""
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def main(argv: list[str]) -> int:
    """Worker entry point: ``--worker TOOL MODEL MODE SIZES CAP_S`` (SIZES comma separated)."""
    from . import load_adapter
    from .models import get_model

    tool, model_name, mode, sizes, cap = argv
    base = {"tool": tool, "model": model_name, "mode": mode}
    try:
        adapter = load_adapter(tool)
        # Distinct seeds per output mode, so that results pooled over modes are independent.
        seed = ("events", "grid", "final").index(mode) * 1_000_000
        run_worker(adapter, get_model(model_name), mode,
                   [int(s) for s in sizes.split(",")], float(cap), seed=seed)
    except Exception as error:
        emit({**base, "n": None, "status": "error", "reason": _short_error(error),
              "traceback": traceback.format_exc()[-4000:]})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
