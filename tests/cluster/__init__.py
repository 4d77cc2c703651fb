"""A Ray cluster of several nodes on one machine, for tests that lose a node."""
