"""Capstone: a learned stochastic surrogate ("deep abstraction") of two-stage gene expression.

A StochasticTransitionModel is fitted by maximum likelihood to transitions x(t) -> x(t + dt) of
exact simulations, rolled forward, and compared with exact simulation at several horizons
(Wasserstein-1 and total-variation distances, means, variances) and in speed. The steps live in
:mod:`jumpax.learn`; this script is the same as ``jumpax learn``. Results and discussion:
README_deep_abstraction.md.

Run:
    python examples/deep_abstraction.py            # defaults: dt = 2.5, horizons 10, 25, 50, 100
    python examples/deep_abstraction.py --dt 5 --steps 3000
"""

import argparse
import sys

from jumpax.apps import learn

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    learn.add_arguments(parser)
    sys.exit(learn.main(parser.parse_args()))
