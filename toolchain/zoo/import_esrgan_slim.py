"""Import ESRGAN-slim x2 and x4 (npm `@upscalerjs/esrgan-slim` 1.0.0, MIT) for the upscale task.

The package's networks are TF.js layers models (Keras: ISR's residual dense network, RDN with
C=1, D=2, G=4, G0=64), translated here layer by layer to ONNX (toolchain/tfjs/layers.py) and
wrapped for plain pixels: uint8 HWC in (0..255, as UpscalerJS feeds them), uint8 HWC out
(clipped, rounded). Verified against TF.js running the package's own files on photo crops;
the cards compare PSNR with bicubic upscaling on photos downscaled by the same factor, and
give the network's receptive radius, which the server uses as the margin of its tiles.
Both folders are committed (0.9 MB each); `python -m toolchain import esrgan_slim_x2`
rebuilds them.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

from contract.metadata import ModelMetadata, SuperResolution
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts
from toolchain.onnx_builder import GraphBuilder
from toolchain.packages import cache_root, npm_member, npm_tarball
from toolchain.tfjs.layers import read_layers_model, translate_layers
from toolchain.tfjs.reference import run_tfjs
from toolchain.tflite.photos import photo
from toolchain.timing import run_time
from toolchain.zoo._publish import json_text, publish, worst_difference

log = logging.getLogger(__name__)

NAME = "esrgan_slim_x2"
DESCRIPTION = "ESRGAN-slim super-resolution, 2x (UpscalerJS, MIT)"
PACKAGE, VERSION = "@upscalerjs/esrgan-slim", "1.0.0"
SCALES = (2, 4)
PHOTOS = ("astronaut", "coffee", "chelsea", "grace_hopper")
VERIFY_SIDE = 64  # TF.js's pure-JavaScript backend is slow: crops of this side
TILE_SIDE = 128
SAMPLE = ("chelsea", (120, 60, 280, 180))  # the cat's face, 160x120


def folder_name(scale: int) -> str:
    return f"esrgan_slim_x{scale}"


def package_file(member: str) -> Path:
    tarball = npm_tarball(PACKAGE, VERSION, cache_root() / f"esrgan-slim-{VERSION}", megabytes=5)
    return npm_member(tarball, f"package/{member}")


def model_json(scale: int) -> Path:
    package_file(f"models/x{scale}/group1-shard1of1.bin")
    return package_file(f"models/x{scale}/model.json")


def receptive_radius(layers: list[dict]) -> int:
    """How many input pixels around a pixel can change its output: the longest chain of
    convolution radii, those after an upsampling counted in input pixels."""
    radius: dict[str, float] = {}
    scale: dict[str, int] = {}
    for layer in layers:
        config, name = layer["config"], layer["config"]["name"]
        inbound = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        radius[name] = max((radius[n] for n in inbound), default=0.0)
        scale[name] = max((scale[n] for n in inbound), default=1)
        if layer["class_name"] == "Conv2D":
            radius[name] += (config["kernel_size"][0] // 2) / scale[name]
        elif layer["class_name"] == "UpSampling2D":
            scale[name] *= config["size"][0]
    return math.ceil(radius[layers[-1]["config"]["name"]])


def pixels_graph(scale: int) -> tuple[onnx.ModelProto, int]:
    """pixels UINT8 [H, W, 3] -> upscaled_pixels UINT8 [H*scale, W*scale, 3]; and the
    network's receptive radius."""
    layers, weights = read_layers_model(model_json(scale))
    g = GraphBuilder(folder_name(scale))
    axis = g.const(np.array([0], np.int64), "axis0")
    pixels = g.input("pixels", np.uint8, ["height", "width", 3])
    nchw = g.op("Unsqueeze", g.op("Transpose", g.op("Cast", pixels, to=onnx.TensorProto.FLOAT),
                                  perm=[2, 0, 1]), axis)
    out = g.op("Transpose", g.op("Squeeze", translate_layers(g, weights, layers, nchw), axis),
               perm=[1, 2, 0])
    clipped = g.op("Clip", out, g.const(np.array(0, np.float32), "zero"),
                   g.const(np.array(255, np.float32), "full"))
    upscaled = g.op("Cast", g.op("Round", clipped), to=onnx.TensorProto.UINT8)
    g.output(upscaled, "upscaled_pixels", np.uint8,
             [f"height_x{scale}", f"width_x{scale}", 3])
    model = g.model()
    return model, receptive_radius(layers)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _crop(name: str, side: int) -> np.ndarray:
    image = photo(name)
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return np.ascontiguousarray(image[top:top + side, left:left + side])


def verify(scale: int, session: ort.InferenceSession) -> list[dict]:
    """Ours against TF.js on the package's files, centre crops: max |pixel| difference after
    both are clipped and rounded to 0..255, and the share of pixels that differ at all."""
    rows = []
    for name in PHOTOS:
        crop = _crop(name, VERIFY_SIDE)
        ours = session.run(None, {"pixels": crop})[0].astype(int)
        theirs = run_tfjs(model_json(scale), {"LR": crop[None].astype(np.float32)}, ["SR"])
        reference = np.rint(np.clip(theirs["SR"][0], 0, 255)).astype(int)
        rows.append({"input": f"{name}, centre {VERIFY_SIDE}x{VERIFY_SIDE}",
                     "max abs diff": int(np.abs(ours - reference).max()),
                     "pixels differing": f"{np.mean(ours != reference):.2%}"})
    return rows


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / error))


def quality(scale: int, session: ort.InferenceSession) -> list[dict]:
    """PSNR (RGB, dB) of the network and of bicubic upscaling against each photo, after the
    photo was shrunk by `scale` with bicubic (the usual benchmark degradation)."""
    rows = []
    for name in PHOTOS:
        image = photo(name)
        height, width = (s - s % scale for s in image.shape[:2])
        original = image[:height, :width]
        small = Image.fromarray(original).resize((width // scale, height // scale),
                                                 Image.Resampling.BICUBIC)
        bicubic = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC))
        network = session.run(None, {"pixels": np.asarray(small)})[0]
        rows.append({"photo": f"{name} ({width}x{height})",
                     "PSNR network": round(psnr(network, original), 2),
                     "PSNR bicubic": round(psnr(bicubic, original), 2)})
    return rows


def write_sample(out_dir: Path) -> None:
    """The cat's face, and what `make demo` checks: the answer's size, and that shrunk back it
    is the photo (within a few grey levels)."""
    name, box = SAMPLE
    folder = out_dir / "samples" / NAME
    folder.mkdir(parents=True, exist_ok=True)
    file = f"{name}_face.jpg"
    Image.fromarray(photo(name)).crop(box).save(folder / file, quality=92)
    width, height = box[2] - box[0], box[3] - box[1]
    expected = {"size": [width * SCALES[0], height * SCALES[0]],
                "mean_abs_diff_shrunk_at_most": 4}
    (folder / "expected.json").write_text(json_text(
        {"model": NAME, "task": "upscale", "images": {file: expected}}))


def _card(scale: int, model: onnx.ModelProto, radius: int, rows: list[dict],
          scores: list[dict], speed: str) -> ModelCard:
    facts = onnx_facts(model)
    gains = [row["PSNR network"] - row["PSNR bicubic"] for row in scores]
    return ModelCard(
        title=f"ESRGAN-slim, {scale}x super-resolution",
        description=f"Served for the `upscale` task (`python -m clients upscale photo.jpg "
                    f"--scale {scale} --out big.png`): the photo {scale} times wider and "
                    "taller.",
        source=f"npm `{PACKAGE}` {VERSION} (`models/x{scale}/model.json`, a TF.js layers "
               "model converted from Keras by UpscalerJS's author, Kevin Scott); despite the name "
               "the network is a residual dense network (the package's own definition says "
               "architecture 'rdn': C=1, D=2, G=4, G0=64). Translated "
               "layer by layer by toolchain/tfjs/layers.py; `python -m toolchain import "
               "esrgan_slim_x2` rebuilds both scales",
        license="MIT (the package; LICENSE beside this card)",
        training="trained by UpscalerJS's author (the package names the ESRGAN paper, whose "
                 "GAN and perceptual losses it follows, but not its data); nothing trained or "
                 "fine-tuned here",
        parameters=facts["parameters"], size_bytes=facts["size_bytes"], opset=facts["opset"],
        metrics={
            f"PSNR gain over bicubic, photos shrunk {scale}x (mean of {len(scores)})":
                f"{np.mean(gains):+.2f} dB",
            **{f"PSNR, {row['photo']} shrunk {scale}x: network / bicubic":
               f"{row['PSNR network']} / {row['PSNR bicubic']} dB" for row in scores},
            f"CPU time, one {TILE_SIDE}x{TILE_SIDE} tile (onnxruntime, this machine)": speed,
            "receptive radius (the server's tile margin)": f"{radius} input pixels",
        },
        verification=rows,
        verified_against="TF.js running the package's files",
        notes="Verification: the served graph against TF.js (@tensorflow/tfjs, pure-JavaScript "
              "CPU backend) running the package's model.json on the same crops; both rounded "
              "to 0..255, so a difference of 1 is float rounding at a .5 boundary. The PSNR "
              "rows: each photo shrunk with bicubic, upscaled by the network and by bicubic, "
              "compared with the original (RGB). A GAN-style network draws sharper edges and "
              "texture than bicubic, which PSNR does not reward; look at the pictures "
              "(docs/images/upscale.png). Not good for: photos that were never small (it "
              "invents texture), faces in detail, text.",
    )


def main(out_dir: Path) -> Path:
    """Write esrgan_slim_x2 (default) and esrgan_slim_x4 into `out_dir`; returns x2's."""
    out_dir = Path(out_dir)
    folders = {}
    for scale in SCALES:
        model, radius = pixels_graph(scale)
        session = _session(model)
        rows = verify(scale, session)
        worst_difference(rows, "TF.js", tolerance=1)
        scores = quality(scale, session)
        speed = run_time(session, {"pixels": _crop("astronaut", TILE_SIDE)}).card_text()
        log.info("x%d: radius %d, verification %s, quality %s, %s", scale, radius, rows,
                 scores, speed)
        metadata = ModelMetadata.build(
            "upscale", SuperResolution(scale=scale, tile_side=TILE_SIDE, tile_margin=radius),
            default=scale == SCALES[0],
            description=f"ESRGAN-slim super-resolution, {scale}x (UpscalerJS, MIT)")
        folders[scale] = publish(
            out_dir, folder_name(scale), model, metadata=metadata,
            inputs=[TensorSpec("pixels", "UINT8", [-1, -1, 3])],
            outputs=[TensorSpec("upscaled_pixels", "UINT8", [-1, -1, 3])], max_batch_size=0,
            files={"LICENSE": package_file("LICENSE"),
                   "verification.json": json_text({"tfjs": rows, "psnr": scores})},
            card=_card(scale, model, radius, rows, scores, speed))
    write_sample(out_dir)
    return folders[SCALES[0]]
