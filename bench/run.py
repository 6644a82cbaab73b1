"""jumpax benchmark: one command that measures jumpax and its peers on the same models.

    python3 bench/run.py            # full run (sizes 1, 1000, 10000; about 25 minutes)
    python3 bench/run.py --quick    # smoke run (sizes 1, 100; a few minutes)

It creates ``bench/.venv`` (jumpax from this checkout, editable, plus the peers from PyPI) on
first use, re-executes itself inside it, then runs every (tool, model, output mode) in its own
worker process with a timeout (``peers/harness.py``), so a broken tool only costs its own
cells. Results are printed as markdown tables, saved under ``bench/out/``, and (for a full run,
or with ``--update-readme``) written into the "Results" section of ``bench/README.md``.
See ``bench/README.md`` for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
OUT = BENCH / "out"
README = BENCH / "README.md"
RESULTS_BEGIN = "<!-- results table goes here -->"
RESULTS_END = "<!-- end of results -->"

PEERS = ["stochastix==0.2.0", "crn-jax==0.3.1", "jsmfsb==1.1.7", "gillespy2==1.8.3"]
"""Peer versions whose APIs the adapters were written against (installed from PyPI)."""

TOOLS = ["jumpax", "c-direct", "stochastix", "crn-jax", "jsmfsb", "gillespy2"]
MODELS = ["birth-death", "dimerisation", "chain-51"]
SWEEP_MODELS = ["chain-11", "chain-51", "chain-101"]
MODES = ["events", "grid", "final"]
SWEEP_PROBE = 100


# ---------------------------------------------------------------------------- environment
def install_stamp() -> str:
    """What the benchmark environment must contain (peer pins and jumpax's dependencies)."""
    pyproject = (REPO / "pyproject.toml").read_bytes()
    return json.dumps({"peers": PEERS, "pyproject": hashlib.sha256(pyproject).hexdigest()})


def ensure_venv() -> None:
    """Creates ``bench/.venv`` and installs jumpax (editable) and the peers, when needed."""
    stamp = VENV / ".bench-installed"
    if stamp.exists() and stamp.read_text() == install_stamp():
        return
    if not VENV_PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print("installing jumpax (editable) and " + ", ".join(PEERS) + " ...", flush=True)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", str(REPO), *PEERS], check=True)
    stamp.write_text(install_stamp())


def inside_venv() -> bool:
    """Whether this interpreter is the benchmark environment's."""
    return Path(sys.prefix).resolve() == VENV.resolve()


def reexec_in_venv() -> None:
    """Replaces this process by the same command run with the benchmark environment."""
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


def machine_info() -> dict:
    """CPU model, core count and memory of this machine."""
    info = {"nproc": os.cpu_count(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()[0]
        info["memory_gb"] = round(int(meminfo.split()[1]) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    return info


# ---------------------------------------------------------------------------- running workers
def worker_env(tool: str, devices: int) -> dict:
    """Environment of a worker: the venv's ``bin`` first on PATH (gillespy2 needs scons)."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JAX_PLATFORMS"] = "cpu"
    env.pop("XLA_FLAGS", None)
    if tool == "jumpax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def run_worker(tool: str, model: str, mode: str, sizes: list[int], cap_s: float,
               timeout_s: float, devices: int) -> list[dict]:
    """Runs one worker process and returns its records (one per size, failures included)."""
    command = [str(VENV_PYTHON), "-m", "peers.harness", tool, model, mode,
               ",".join(map(str, sizes)), str(cap_s)]
    proc = subprocess.Popen(command, cwd=BENCH, env=worker_env(tool, devices),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=max(timeout_s, 1.0))
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)  # the worker's own process group
        stdout, stderr = proc.communicate()
    records = parse_records(stdout)
    done = {r["n"] for r in records}
    for n in sizes:
        if n in done or any(r.get("n") is None for r in records):
            continue
        if timed_out:
            reason = f"worker timed out after {timeout_s:.0f} s"
        else:
            reason = f"worker exited {proc.returncode}: {last_line(stderr)}"
        records.append({"tool": tool, "model": model, "mode": mode, "n": n,
                        "status": "timeout" if timed_out else "error", "reason": reason})
    return records


def parse_records(stdout: str) -> list[dict]:
    """The JSON lines a worker printed (other output is ignored)."""
    records = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return records


def last_line(text: str) -> str:
    """The last non-empty line of ``text`` (shortened)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def plan(args) -> list[tuple[str, str, str, list[int]]]:
    """The (tool, model, mode, sizes) jobs: main models first, then the network-size sweep.

    A sweep job first runs ``SWEEP_PROBE`` trajectories, so that a tool too slow for the sweep
    size on a large network is skipped (by the per-call cap) instead of running for minutes.
    """
    jobs = [(tool, model, mode, args.sizes)
            for model in args.models for mode in args.modes for tool in args.tools]
    if args.sweep_size:
        sizes = sorted({min(SWEEP_PROBE, args.sweep_size), args.sweep_size})
        jobs += [(tool, model, "final", sizes)
                 for model in SWEEP_MODELS for tool in args.tools
                 if not (model in args.models and "final" in args.modes
                         and args.sweep_size in args.sizes)]
    return jobs


def run_all(args) -> list[dict]:
    """Runs every job within the overall budget and returns all records."""
    jobs = plan(args)
    records: list[dict] = []
    start = time.monotonic()
    for index, (tool, model, mode, sizes) in enumerate(jobs, 1):
        remaining = args.budget - (time.monotonic() - start)
        label = f"[{index}/{len(jobs)}] {tool} {model} {mode} n={','.join(map(str, sizes))}"
        if remaining < 5:
            new = [{"tool": tool, "model": model, "mode": mode, "n": n, "status": "skipped",
                    "reason": f"overall budget of {args.budget:.0f} s used up"} for n in sizes]
        else:
            job_start = time.monotonic()
            new = run_worker(tool, model, mode, sizes, args.cap,
                             min(args.worker_timeout, remaining), args.jumpax_devices)
            label += f" ({time.monotonic() - job_start:.0f} s)"
        print(label + ": " + "; ".join(progress_text(r) for r in new), flush=True)
        records.extend(new)
    return records


def progress_text(record: dict) -> str:
    """A short description of one record for the progress log."""
    if record.get("status") != "ok":
        return f"n={record.get('n')} {record.get('status')}: {record.get('reason', '')[:120]}"
    rate = record["n"] / record["steady_s"]
    return f"n={record['n']} {rate:.3g} traj/s, compile {record['compile_s']:.1f} s"


# ---------------------------------------------------------------------------- tables
class Results:
    """Indexes the records and derives events per second, estimating missing event counts."""

    def __init__(self, records: list[dict]):
        self.records = records
        self.by_key = {(r["tool"], r["model"], r["mode"], r["n"]): r for r in records
                       if r.get("n") is not None}
        self.failed_tools = {(r["tool"], r["model"], r["mode"]): r for r in records
                             if r.get("n") is None}
        self.events_per_traj = self._reference_events()

    def _reference_events(self) -> dict[str, tuple[float, str]]:
        """Mean events per trajectory per model, from jumpax (else the C reference)."""
        totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for r in self.records:
            if r.get("status") == "ok" and r.get("events") is not None:
                total = totals[(r["model"], r["tool"])]
                total[0] += r["events"]
                total[1] += r["n_done"]
        reference = {}
        for (model, tool), (events, n) in totals.items():
            if tool in ("jumpax", "c-direct") and n and (model not in reference or
                                                         tool == "jumpax"):
                reference[model] = (events / n, tool)
        return reference

    def get(self, tool, model, mode, n) -> dict | None:
        """The record of one cell (or the worker-level failure covering it)."""
        return self.by_key.get((tool, model, mode, n)) or self.failed_tools.get((tool, model, mode))

    def rate(self, record: dict) -> tuple[float, bool] | None:
        """Events per second of an ok record, and whether the event count is estimated."""
        if record is None or record.get("status") != "ok":
            return None
        if record.get("events") is not None:
            return record["events"] / record["steady_s"], False
        reference = self.events_per_traj.get(record["model"])
        if reference is None:
            return None
        return reference[0] * record["n_done"] / record["steady_s"], True


class Notes:
    """Numbered footnotes for table cells that are not numbers."""

    def __init__(self):
        self.texts: list[str] = []

    def ref(self, text: str) -> str:
        """The footnote marker for ``text`` (added once)."""
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def render(self) -> list[str]:
        """The footnotes as markdown lines."""
        return [f"{i}. {text}" for i, text in enumerate(self.texts, 1)]


def status_cell(record: dict | None, notes: Notes) -> str:
    """Cell text for a record that has no number."""
    if record is None:
        return "—"
    status = record.get("status", "error")
    reason = record.get("reason", "")
    label = {"n/a": "n/a", "skipped": "skipped", "timeout": "timeout"}.get(status, "FAIL")
    return f"{label} {notes.ref(record['tool'] + ': ' + reason)}"


def fmt(value: float) -> str:
    """A number in 3 significant figures (``1.23e6`` style from 10,000 up)."""
    if value == 0 or not math.isfinite(value):
        return str(value)
    if 100 <= abs(value) < 1e4:
        return f"{value:.0f}"
    if 1e-3 <= abs(value) < 100:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def throughput_cell(results: Results, tool, model, mode, n, notes: Notes) -> str:
    """Events/s of one cell, with the ratio to jumpax and markers."""
    record = results.get(tool, model, mode, n)
    rate = results.rate(record)
    if rate is None:
        return status_cell(record, notes)
    value, estimated = rate
    text = fmt(value)
    if estimated:
        text += "†"
    if record.get("steady_from") == "first call minus previous compile":
        text += "~"
    if tool != "jumpax":
        reference = results.rate(results.get("jumpax", model, mode, n))
        if reference:
            text += f" ({value / reference[0]:.2g}×)"
    return text


def throughput_table(results: Results, args, notes: Notes) -> list[str]:
    """Events per second for every model, output mode and size."""
    rows = [[model, mode, str(n)] +
            [throughput_cell(results, tool, model, mode, n, notes) for tool in args.tools]
            for model in args.models for mode in args.modes for n in args.sizes]
    return markdown_table(["model", "output", "trajectories", *args.tools], rows)


def sweep_table(results: Results, args, notes: Notes) -> list[str]:
    """Events per second against network size (final state, one ensemble size)."""
    rows = []
    for model in SWEEP_MODELS:
        record = next((r for r in results.records if r["model"] == model and r.get("meta")),
                      None)
        reactions = str(record["meta"]["n_reactions"]) if record else "?"
        rows.append([model, reactions] + [
            throughput_cell(results, tool, model, "final", args.sweep_size, notes)
            for tool in args.tools])
    return markdown_table(["model", "reactions", *args.tools], rows)


def value_table(results: Results, args, notes: Notes, key: str, per_size: bool) -> list[str]:
    """A table of one numeric field (compile time at the first size, or peak memory)."""
    sizes = args.sizes if per_size else args.sizes[:1]
    rows = []
    for model in args.models:
        for mode in args.modes:
            for n in sizes:
                cells = []
                for tool in args.tools:
                    record = results.get(tool, model, mode, n)
                    ok = record is not None and record.get("status") == "ok"
                    cells.append(fmt(record[key]) if ok else status_cell(record, notes))
                rows.append([model, mode] + ([str(n)] if per_size else []) + cells)
    header = ["model", "output"] + (["trajectories"] if per_size else []) + args.tools
    return markdown_table(header, rows)


def check_table(results: Results, args) -> list[str]:
    """Mean observable at t1 (± standard error) per tool, against the exact value or C."""
    rows = []
    for model in args.models:
        pooled = {}
        meta = None
        for tool in args.tools:
            total = [0.0, 0.0, 0]
            for r in results.records:
                if r["tool"] == tool and r["model"] == model and r.get("status") == "ok":
                    total[0] += r["obs_sum"]
                    total[1] += r["obs_sumsq"]
                    total[2] += r["n_done"]
                    meta = meta or r.get("meta")
            if total[2] > 1:
                mean = total[0] / total[2]
                var = max(total[1] / total[2] - mean**2, 0.0) * total[2] / (total[2] - 1)
                pooled[tool] = (mean, math.sqrt(var / total[2]))
        exact = meta.get("analytic_mean") if meta else None
        reference = (exact, 0.0) if exact is not None else pooled.get("c-direct")
        cells = []
        for tool in args.tools:
            if tool not in pooled:
                cells.append("—")
                continue
            mean, se = pooled[tool]
            flag = ""
            if reference and abs(mean - reference[0]) > 5 * math.hypot(se, reference[1]) + 1e-9:
                flag = " **!**"
            cells.append(f"{mean:.2f} ± {se:.2f}{flag}")
        observable = meta["observable"] if meta else "?"
        exact_text = f"{exact:.2f}" if exact is not None else "— (vs c-direct)"
        events = results.events_per_traj.get(model)
        events_text = f"{events[0]:.0f} ({events[1]})" if events else "?"
        rows.append([model, observable, exact_text, events_text] + cells)
    return markdown_table(["model", "observable at t1", "exact", "events/traj", *args.tools],
                          rows)


def versions(results: Results) -> str:
    """Tool versions reported by the workers."""
    seen = {}
    for r in results.records:
        if r.get("version"):
            seen.setdefault(r["tool"], r["version"])
    return ", ".join(f"{tool} {version}" for tool, version in seen.items())


def report(records: list[dict], args, info: dict, elapsed: float) -> str:
    """The whole markdown report."""
    results = Results(records)
    notes = Notes()
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"Run of {when} (`{' '.join(['python3 bench/run.py', *sys.argv[1:]])}`, "
        f"{elapsed / 60:.1f} min): {info.get('cpu', '?')}, {info.get('nproc')} cores, "
        f"{info.get('memory_gb', '?')} GB; jumpax on {args.jumpax_devices} host device(s).",
        "",
        f"Versions: {versions(results)}.",
        "",
        "**Events per second** (steady state, wall clock; in brackets: relative to jumpax, "
        ">1 = faster than jumpax). † events not reported by the tool: jumpax's mean events per "
        "trajectory for the model is used. ~ one call only: its time minus the compile time "
        "measured at the previous size.",
        "",
        *throughput_table(results, args, notes),
    ]
    if args.sweep_size:
        lines += ["", f"**Cost against network size**: diffusion chains, final state, "
                  f"{args.sweep_size} trajectories, events per second (same events per "
                  "trajectory at every size).", "", *sweep_table(results, args, notes)]
    lines += [
        "", f"**Compile time** (s): first call minus steady call at {args.sizes[0]} "
        "trajectory(ies), plus the tool's model/solver build (gillespy2: C++ build; "
        "c-direct: gcc).", "",
        *value_table(results, args, notes, "compile_s", per_size=False),
        "", "**Peak memory** (MB, resident): peak of the worker process, sizes run in "
        "increasing order (so the peak of the largest size so far), including the Python/JAX "
        "baseline (about 250-350 MB for the JAX tools) and the tool's child processes; c-direct: "
        "the sum of its processes only.", "",
        *value_table(results, args, notes, "peak_rss_mb", per_size=True),
        "", "**Check**: mean observable at t1 ± standard error, pooled over every output "
        "mode and size; **!** marks a mean more than 5 standard errors from the exact value "
        "(or from c-direct where no exact value is known).", "",
        *check_table(results, args),
    ]
    if notes.texts:
        lines += ["", "Notes:", "", *notes.render()]
    return "\n".join(lines) + "\n"


def update_readme(text: str) -> None:
    """Writes ``text`` into bench/README.md after the results marker."""
    readme = README.read_text()
    if RESULTS_BEGIN not in readme:
        print(f"warning: {RESULTS_BEGIN} not found in {README}; not updated", file=sys.stderr)
        return
    before, after = readme.split(RESULTS_BEGIN, 1)
    after = after.split(RESULTS_END, 1)[1] if RESULTS_END in after else after
    README.write_text(f"{before}{RESULTS_BEGIN}\n{text}{RESULTS_END}{after}")


# ---------------------------------------------------------------------------- main
def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: sizes 1,100, sweep at 100, small caps")
    parser.add_argument("--sizes", help="comma-separated ensemble sizes (default 1,1000,10000)")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--sweep-size", type=int,
                        help="ensemble size of the network-size sweep (0: no sweep)")
    parser.add_argument("--cap", type=float,
                        help="skip a size whose estimated call time exceeds this (s)")
    parser.add_argument("--worker-timeout", type=float, help="timeout of one worker (s)")
    parser.add_argument("--budget", type=float, help="overall time budget (s)")
    parser.add_argument("--jumpax-devices", type=int, default=os.cpu_count() or 1,
                        help="host devices for jumpax (XLA_FLAGS); default: nproc")
    parser.add_argument("--update-readme", action=argparse.BooleanOptionalAction,
                        help="write the tables into bench/README.md (default: full runs only)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = [int(s) for s in (args.sizes or ("1,100" if quick else "1,1000,10000"))
                  .split(",")]
    args.tools = args.tools.split(",")
    args.models = args.models.split(",")
    args.modes = args.modes.split(",")
    if args.sweep_size is None:
        args.sweep_size = 100 if quick else 1000
    args.cap = args.cap or (30.0 if quick else 60.0)
    args.worker_timeout = args.worker_timeout or (240.0 if quick else 420.0)
    args.budget = args.budget or (1200.0 if quick else 1680.0)
    if args.update_readme is None:
        args.update_readme = not quick
    return args


def main(argv: list[str]) -> int:
    """Sets up the environment, runs the benchmark and reports."""
    args = parse_args(argv)
    if not inside_venv():
        ensure_venv()
        reexec_in_venv()
    unknown = set(args.tools) - set(TOOLS)
    if unknown:
        raise SystemExit(f"unknown tools: {', '.join(sorted(unknown))}")
    info = machine_info()
    print(f"machine: {info}", flush=True)
    start = time.monotonic()
    records = run_all(args)
    elapsed = time.monotonic() - start
    text = report(records, args, info, elapsed)
    OUT.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (OUT / f"results-{stamp}.json").write_text(json.dumps(
        {"args": {k: v for k, v in vars(args).items()}, "machine": info, "records": records},
        indent=1))
    (OUT / "latest.md").write_text(text)
    print("\n" + text)
    if args.update_readme:
        update_readme(text)
        print(f"results written to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
