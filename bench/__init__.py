"""Load generator and reference measurements (``python -m bench.serve_bench``)."""
