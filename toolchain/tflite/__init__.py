"""Our own TFLite -> ONNX importer (the MediaPipe models of the zoo use it).

`read_tflite` parses the flatbuffer (PyPI `tflite`), `translate` / `tflite_to_onnx` write the
graph as ONNX operator by operator, `run_tflite` runs the original with LiteRT for
verification, and `mediapipe_file` fetches model files from the MediaPipe wheel.
"""

from toolchain.tflite.converter import UnsupportedOperator, tflite_to_onnx, translate, translates
from toolchain.tflite.reader import TfliteGraph, read_tflite

__all__ = [
    "TfliteGraph",
    "UnsupportedOperator",
    "read_tflite",
    "tflite_to_onnx",
    "translate",
    "translates",
]
