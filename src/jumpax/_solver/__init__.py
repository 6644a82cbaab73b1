"""How one step is drawn: the abstract solver and one file per method."""
