"""The GPU data path: box selection and mask decoding as torch operations on the
device the engine runs on, so images go to the device once and only final boxes and
outlines come back. Every function gives the answers of its NumPy counterpart in
``decoders/`` (tests check them against each other on CPU tensors). Imported only by
replicas whose engine runs on torch."""
