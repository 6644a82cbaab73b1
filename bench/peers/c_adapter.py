"""c-direct: the project's own C Direct-method reference (``bench/c/direct.c``).

``setup`` compiles it with ``gcc -O2`` (timed as its compile time) and writes the model as a
small text file. ``run`` splits the ensemble over one process per core (``os.cpu_count()``),
each simulating a contiguous block of trajectory indices with its own per-trajectory random
streams. Events are counted by the C program; its peak memory is the sum of the processes'
own ``ru_maxrss`` (the Python worker that starts them is not counted).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from .harness import Adapter as BaseAdapter
from .harness import Summary
from .models import Model

SOURCE = Path(__file__).resolve().parent.parent / "c" / "direct.c"


def network_text(model: Model, mode: str) -> str:
    """The network file read by ``direct.c`` (format documented at the top of the source)."""
    index = {s: i for i, s in enumerate(model.species)}
    grid = model.grid() if mode == "grid" else []
    lines = [
        f"{len(model.species)} {len(model.reactions)} {model.observable_index}",
        " ".join(str(v) for v in model.x0_vector),
        f"{model.t1!r} {len(grid)} " + " ".join(repr(float(t)) for t in grid),
    ]
    for r in model.reactions:
        reactants = " ".join(f"{index[s]} {c}" for s, c in r.reactants.items())
        changes = [(i, d) for i, d in enumerate(r.change(model.species)) if d]
        change_text = " ".join(f"{i} {d}" for i, d in changes)
        lines.append(f"{r.k!r} {len(r.reactants)} {reactants} {len(changes)} {change_text}")
    return "\n".join(lines) + "\n"


class Adapter(BaseAdapter):
    """Runs the compiled C reference, one process per core."""

    name = "c-direct"
    compiles_per_size = False
    worker_memory_counts = False

    def version(self) -> str:
        """The compiler version (the tool is this repository's own C file)."""
        out = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True,
                             check=True)
        return f"(gcc {out.stdout.strip()} -O2)"

    def setup(self, model: Model, mode: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="jumpax-bench-c-")
        tmp = Path(self._tmp.name)
        self.binary = tmp / "direct"
        subprocess.run(["gcc", "-O2", "-o", str(self.binary), str(SOURCE), "-lm"], check=True,
                       capture_output=True, text=True)
        self.network = tmp / "network.txt"
        self.network.write_text(network_text(model, mode))
        self.mode = mode
        self.processes = os.cpu_count() or 1

    def run(self, n: int, seed: int) -> Summary:
        chunks = [n // self.processes + (i < n % self.processes) for i in range(self.processes)]
        starts = [sum(chunks[:i]) for i in range(len(chunks))]
        procs = [
            subprocess.Popen(
                [str(self.binary), str(self.network), self.mode, str(count), str(seed),
                 str(start)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for count, start in zip(chunks, starts, strict=True) if count
        ]
        totals = {"events": 0.0, "obs_sum": 0.0, "obs_sumsq": 0.0, "maxrss_kb": 0.0}
        for proc in procs:
            out, err = proc.communicate()
            if proc.returncode:
                raise RuntimeError(f"direct exited {proc.returncode}: {err.strip()}")
            fields = out.split()
            values = dict(zip(fields[0::2], map(float, fields[1::2]), strict=True))
            for key in totals:
                totals[key] += values[key]
        return Summary(n=n, obs_sum=totals["obs_sum"], obs_sumsq=totals["obs_sumsq"],
                       events=totals["events"], child_peak_mb=totals["maxrss_kb"] / 1024.0)
