"""The SBML Test Suite's semantic cases, simulated by the reaction-rate ODE, by the suite's rule.

``tests/data/sbml-semantic/`` holds the odd-numbered half of the suite's semantic cases (see its
README) and libroadrunner's outcome on each. :func:`run_case` loads a case with
:func:`jumpax.load_sbml`, solves it with :class:`jumpax.MeanFieldModel` in double precision
(``Tsit5``, or the implicit ``Kvaerno5`` where that runs out of steps: a stiff model; steps
at most one output interval long, so that no trigger window is stepped over) and
compares every requested variable at every output time with the reference time course:
``|simulated - reference| <= absolute + relative * |reference|``. Outcomes:

- ``PASS``: every value within the tolerance;
- ``FAIL``: a wrong number (the worst one is reported);
- ``REFUSED``: ``load_sbml`` or the solver refused the model with a ``ValueError`` naming the
  element;
- ``NOT-TIME-COURSE``: not a simulation case (flux balance), not run;
- ``CRASH``: any other exception (a bug).

Run every case (about half an hour on 2 cores)::

    python tests/sbml_suite.py --jobs 2 --write docs/sbml-test-suite.md

``tests/test_sbml_suite.py`` runs a fixed sample of 150 cases in CI.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import csv
import dataclasses
import pathlib
import sys
import time

import numpy as np

CASES = pathlib.Path(__file__).parent / "data" / "sbml-semantic"
OUTCOMES = ("PASS", "FAIL", "REFUSED", "CRASH", "NOT-TIME-COURSE")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One case's outcome: its status and a one-line detail (the refusal or worst value)."""

    case: str
    status: str
    detail: str = ""


def reference() -> dict[str, str]:
    """libroadrunner's outcome on each case (``PASS``, ``FAIL``, ``REFUSED``, ...)."""
    lines = (CASES / "reference-libroadrunner.tsv").read_text().splitlines()[1:]
    return {line.split("\t")[0]: line.split("\t")[1] for line in lines}


def all_cases() -> list[str]:
    """Every case number in the data, in order."""
    return sorted(reference())


def sample_cases() -> list[str]:
    """The fixed sample CI runs: every sixth case (152 cases, spread over the whole suite)."""
    return all_cases()[::6]


def _columns(path: pathlib.Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return [name.strip() for name in rows[0]], np.array(rows[1:], dtype=float)


def _compartments(model_path: pathlib.Path) -> dict[str, str]:
    """Each species' compartment, as the file says (after flattening a ``comp`` model)."""
    import libsbml

    from jumpax.sbml._load import _flatten_submodels

    document = libsbml.readSBMLFromFile(str(model_path))
    _flatten_submodels(document)
    return {s.getId(): s.getCompartment() for s in document.getModel().getListOfSpecies()}


def simulated(case: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The case's requested columns as jumpax computes them, and the reference's.

    Returns:
        ``(names, simulated, reference)``, the two arrays ``(n_times, len(names))``.

    Raises:
        ValueError: where jumpax refuses the model.
    """
    import diffrax
    import jax

    import jumpax as jx
    from jumpax.sbml import find_settings, load_sbml

    folder = CASES / case
    model_path = next(folder.glob(f"{case}-sbml-*.xml"))
    settings = find_settings(model_path)
    names, expected = _columns(folder / f"{case}-results.csv")
    names = names[1:]
    with jax.enable_x64(True):
        network = load_sbml(model_path)
        for solver in (diffrax.Tsit5(), diffrax.Kvaerno5()):  # the implicit one if stiff
            model = jx.MeanFieldModel(
                network, solver, rtol=1e-10, atol=1e-14, max_steps=20_000,
                max_events=50_000,  # some cases fire events every 0.01 time units
                max_dt=settings.duration / settings.steps,  # no trigger window goes unseen
            )
            results = model(network.x0, settings.t1, t0=settings.t0, save_at=settings.save_at)
            if not np.any(results.overflow):
                break
        compartment = _compartments(model_path)
        values = []
        for name in names:
            value = network.observe(name, results.x)
            if name in settings.concentration:
                value = value / network.observe(compartment[name], results.x)
            values.append(np.asarray(value, dtype=float))
    return names, np.stack(values, axis=1), expected[:, 1:]


def run_case(case: str) -> Outcome:
    """Simulates one case and applies the suite's rule."""
    from jumpax.sbml import find_settings

    if reference()[case] == "NOT-TIME-COURSE":
        return Outcome(case, "NOT-TIME-COURSE")
    try:
        names, values, expected = simulated(case)
    except ValueError as error:
        return Outcome(case, "REFUSED", str(error).splitlines()[0])
    except Exception as error:  # noqa: BLE001 - a crash is an outcome to report
        return Outcome(case, "CRASH", f"{type(error).__name__}: {str(error).splitlines()[0]}")
    settings = find_settings(next((CASES / case).glob(f"{case}-sbml-*.xml")))
    allowed = settings.absolute + settings.relative * np.abs(expected)
    excess = np.where(np.isfinite(values), np.abs(values - expected) - allowed, np.inf)
    excess = np.where(np.isnan(values) & np.isnan(expected), 0.0, excess)  # NaN is NaN
    if np.all(excess <= 0):
        return Outcome(case, "PASS")
    row, column = np.unravel_index(np.argmax(excess), excess.shape)
    return Outcome(
        case,
        "FAIL",
        f"{names[column]} at row {row}: {values[row, column]!r}, expected "
        f"{expected[row, column]!r}",
    )


def _run_quietly(case: str) -> Outcome:
    import warnings

    import jax

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run_case(case)
    jax.clear_caches()  # hundreds of compiled programs would exhaust a worker's memory maps
    return outcome


def table(outcomes: list[Outcome]) -> str:
    """The counts of each status, jumpax's next to the reference's, as a Markdown table."""
    ours = collections.Counter(o.status for o in outcomes)
    theirs = collections.Counter(reference()[o.case] for o in outcomes)
    passed = {o.case for o in outcomes if o.status == "PASS"}
    both = sum(1 for o in outcomes if reference()[o.case] == "PASS" and o.case in passed)
    lines = ["| outcome | jumpax | libroadrunner 2.10 |", "|---|---|---|"]
    for status in OUTCOMES:
        lines.append(f"| {status} | {ours[status]} | {theirs[status]} |")
    lines.append(
        f"\njumpax passes {both} of the {theirs['PASS']} cases libroadrunner passes "
        f"({100 * both / max(theirs['PASS'], 1):.1f}%)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case numbers (default: all)")
    parser.add_argument("--sample", action="store_true", help="the CI sample only")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--write", help="write the table and every non-pass to this file")
    args = parser.parse_args(argv)
    cases = [case.zfill(5) for case in args.cases]
    cases = cases or (sample_cases() if args.sample else all_cases())
    start = time.perf_counter()
    outcomes = []
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        for k, outcome in enumerate(pool.map(_run_quietly, cases), 1):
            outcomes.append(outcome)
            print(f"[{k}/{len(cases)}] {outcome.case} {outcome.status} {outcome.detail}",
                  flush=True)
    print(table(outcomes))
    print(f"{time.perf_counter() - start:.0f} s")
    if args.write:
        lines = [
            "# The SBML Test Suite's semantic cases through jumpax",
            "",
            "The odd-numbered half of the suite's semantic cases (`tests/data/sbml-semantic/`),",
            "each loaded by `jumpax.load_sbml` and solved by `jumpax.MeanFieldModel` in double",
            "precision, compared with the reference time course by the suite's rule",
            "(`|simulated - reference| <= absolute + relative * |reference|` at every output",
            "time). Written by `python tests/sbml_suite.py --jobs 2 --write "
            "docs/sbml-test-suite.md`",
            f"({time.perf_counter() - start:.0f} s on this machine). libroadrunner's column is",
            "its outcome on the same cases (CVODE at rtol 1e-10).",
            "",
            table(outcomes),
            "",
            "Every case that does not pass:",
            "",
            "| case | outcome | detail |",
            "|---|---|---|",
        ]
        lines += [
            f"| {o.case} | {o.status} | {o.detail.replace('|', '/')} |"
            for o in outcomes
            if o.status != "PASS"
        ]
        pathlib.Path(args.write).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
