"""Image and audio decoding: formats, orientation, transparency, limits and broken files."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile
from PIL import Image

from service.codecs import AudioLimits, ImageLimits, decode_audio, decode_image
from service.codecs.audio import resample
from service.errors import InvalidInput
from tests.e2e import media


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
def test_images_decode_to_rgb_of_their_size(fmt):
    image = decode_image(media.solid("green", 30, 20, fmt))
    assert image.mode == "RGB" and image.size == (30, 20)
    r, g, b = np.asarray(image)[10, 15]
    assert g > 180 and r < 80 and b < 80


def test_greyscale_to_rgb_and_rgb_to_greyscale():
    grey = media.encode(Image.new("L", (4, 4), 77))
    assert np.asarray(decode_image(grey))[0, 0].tolist() == [77, 77, 77]
    assert decode_image(media.solid("red"), channels=1).mode == "L"


def test_sixteen_bit_greyscale_is_scaled_to_eight_bits():
    deep = media.encode(Image.fromarray(np.full((3, 3), 65535, np.uint16)))
    assert np.asarray(decode_image(deep))[1, 1].tolist() == [255, 255, 255]


def test_transparency_is_composited_over_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    pixels = np.asarray(decode_image(media.encode(rgba)))
    assert pixels[0, 0].tolist() == [255, 0, 0] and pixels[3, 3].tolist() == [255, 255, 255]
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 0, 0, 255])
    palette.info["transparency"] = 0
    assert np.asarray(decode_image(media.encode(palette)))[2, 2].tolist() == [255, 255, 255]


@pytest.mark.parametrize(("orientation", "size"), [(1, (40, 20)), (3, (40, 20)), (6, (20, 40)),
                                                   (8, (20, 40))])
def test_exif_orientation_is_applied(orientation, size):
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # a white strip on the stored image's left
    exif = Image.Exif()
    exif[0x0112] = orientation
    image = decode_image(media.encode(Image.fromarray(stored), "JPEG", exif=exif, quality=95))
    assert image.size == size
    bright = np.asarray(image).mean(axis=2) > 128
    expected_side = {1: bright[:, :5], 3: bright[:, -5:], 6: bright[:5], 8: bright[-5:]}
    assert expected_side[orientation].all()


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"),
    (b"GIF89a" + b"\x00" * 40, "unsupported"),
    (media.encode(Image.new("RGB", (8, 8)), "TIFF"), "TIFF"),
    (media.png_claiming_size(30000, 30000), "900,000,000"),
    (media.png_claiming_size(7000, 7000), "7000x7000"),
    (media.solid("red", 64, 64, "JPEG")[:200], "truncated"),
])
def test_bad_images_raise_invalid_input_with_a_reason(data, words):
    with pytest.raises(InvalidInput) as error:
        decode_image(data)
    assert words in error.value.message


def test_image_limits_are_configurable():
    with pytest.raises(InvalidInput, match="limit is 100 pixels"):
        decode_image(media.solid("red", 20, 20), ImageLimits(max_pixels=100))


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_sample_formats_decode_to_float(subtype):
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    audio = decode_audio(media.wav(tone, 16000, subtype), 16000)
    assert audio.dtype == np.float32 and audio.shape == (16000,)
    assert np.abs(audio - tone).max() < 0.02


def test_stereo_is_averaged_and_flac_reads():
    left, right = np.full(800, 0.5), np.full(800, -0.1)
    audio = decode_audio(media.wav(np.stack([left, right], 1), 8000, "PCM_16", "FLAC"), 8000)
    assert audio == pytest.approx(np.full(800, 0.2), abs=1e-3)


def test_resampling_keeps_duration_and_pitch():
    rate, target = 44_100, 16_000
    tone = np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)
    out = resample(tone, rate, target)
    assert out.size == target
    peak = np.argmax(np.abs(np.fft.rfft(out)))
    assert peak == pytest.approx(1000, abs=1)  # 1 Hz per bin over one second


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"),
    (b"RIFF\x00\x00\x00\x00WAVEjunk" * 4, "could not be read"),
    (media.wav(np.zeros(0), 16000), "no samples"),
    (io.BytesIO(b"OggS" + b"\x00" * 100).getvalue(), "could not be read"),
])
def test_bad_audio_raises_invalid_input(data, words):
    with pytest.raises(InvalidInput) as error:
        decode_audio(data, 16000)
    assert words in error.value.message


def test_long_recordings_are_refused_from_the_header():
    long = media.wav(np.zeros(16000 * 3), 16000)
    with pytest.raises(InvalidInput, match="lasts 3.0 s; the limit is 2 s"):
        decode_audio(long, 16000, AudioLimits(max_seconds=2))


def test_non_wav_containers_are_refused():
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(1000), 16000, format="AIFF")
    with pytest.raises(InvalidInput, match="unsupported audio format AIFF"):
        decode_audio(buffer.getvalue(), 16000)
