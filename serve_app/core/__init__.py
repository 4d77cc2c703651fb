"""Types every stage shares: model ids and tasks, what a model package declares, the
frame map back to the client's image, and the messages that cross deployment hops.

Nothing here imports more than NumPy, so the ingress can name a task or parse a model
id without loading OpenCV, ONNX or the weight sources.
"""
