"""What the served ONNX Runtime reads: the ceiling every exporter and importer writes under.

onnxruntime 1.31 (the newest onnxruntime-gpu) loads IR version <= 10 and opset <= 20.
"""

MAX_IR_VERSION = 10
MAX_OPSET = 20
