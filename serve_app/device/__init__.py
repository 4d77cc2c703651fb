"""The GPU data path: box selection and mask decoding as torch operations on the
device the engine runs on, so images go to the device once and only final boxes and
outlines come back. ``resize.py`` resizes on the device too, for ``bench/gpu_check.py``
to weigh against the CPU preprocessing stage; serving does not use it yet. Every
function gives the answers of its NumPy counterpart in ``preprocessing/`` and
``decoders/`` (tests check them against each other on CPU tensors). Imported only by
replicas whose engine runs on torch."""
