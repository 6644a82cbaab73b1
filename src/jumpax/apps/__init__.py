"""The application layer: command line, demo, plotting and showcase experiments.

Nothing else in jumpax imports this package.
"""
