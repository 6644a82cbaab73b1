"""Inference: fit any network's rate parameters to the data people have.

- **Complete paths** (event lists): exact maximum likelihood from the path likelihood
  (:func:`fit_paths`; closed form for mass action) with Fisher-information intervals.
- **Snapshots** (each cell counted once, at one of several times): moment or distribution
  matching with unbiased score-function gradients and stochastic Gauss-Newton steps
  (:func:`fit_snapshots`), bootstrap intervals.
- **Noisy, partially observed time series**: particle marginal Metropolis-Hastings
  (:func:`pmmh`) with a bootstrap particle filter that simulates exactly between observations
  (:func:`particle_log_likelihood`), posterior intervals.

Parameters are named by reaction, ``reaction.parameter`` or SBML parameter id
(:class:`ParameterSet`) and searched on the log scale; the others stay fixed. Data are read
from long-format CSV files (:func:`read_paths`, :func:`read_snapshots`,
:func:`read_timeseries`). ``jumpax infer`` is the command line.
"""

from ._data import TimeSeries, read_paths, read_timeseries
from ._parameters import ParameterSet
from ._paths import fit_paths, mass_action_mle
from ._snapshots import (
    Snapshots,
    fit_snapshots,
    read_snapshots,
    simulate_snapshots,
    snapshot_objective,
    write_snapshots,
)
from ._timeseries import MixingWarning, effective_sample_size, particle_log_likelihood, pmmh

__all__ = [
    "MixingWarning",
    "ParameterSet",
    "Snapshots",
    "TimeSeries",
    "effective_sample_size",
    "fit_paths",
    "fit_snapshots",
    "mass_action_mle",
    "particle_log_likelihood",
    "pmmh",
    "read_paths",
    "read_snapshots",
    "read_timeseries",
    "simulate_snapshots",
    "snapshot_objective",
    "write_snapshots",
]
