"""Recover the four rates of the telegraph promoter from synthetic single-cell snapshots.

The experiment (see ``jumpax.apps.fit`` for the details and the reasons):

- cells are induced at t = 0 with the gene off and no mRNA;
- 2,000 cells are fixed and their mRNA counted at each of t = 0.5, 1 and 2, and 10,000 cells at
  t = 10, when the population is at steady state;
- a steady-state distribution alone determines only the ratios k_on/k_deg, k_off/k_deg and
  k_tx/k_deg; the early snapshots fix the time scale, so all four rates are identifiable.

Both fits simulate cells with jumpax, estimate gradients with the score-function (REINFORCE)
estimator of ``jumpax.optimization`` and take Gauss-Newton steps on the log-rates
(``jumpax.inference.fit_snapshots``): moment matching
(first three moments at each time, generalised-method-of-moments weights) and distribution
matching (Neyman's chi-square between histograms).

    python examples/fit_telegraph.py            # about 1 minute on 2 cores
    jumpax fit --plot fit_telegraph.png         # the same from the command line
"""

import sys

import jax

from jumpax.apps import fit


def main(plot_path: str = "fit_telegraph.png") -> None:
    key_data, key_fit, key_plot = jax.random.split(jax.random.key(0), 3)
    data = fit.synthetic_snapshots(key_data)
    fits = {
        method: fit.fit_rates(jax.random.fold_in(key_fit, i), data, method)
        for i, method in enumerate(fit.METHODS)
    }
    print(fit.format_table(fits, fit.TRUE_RATES))
    print(f"wrote {fit.plot_fit(key_plot, data, fits, plot_path)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
