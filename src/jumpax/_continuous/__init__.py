"""Continuous counterparts of a network: the reaction-rate ODE and the chemical Langevin SDE."""
