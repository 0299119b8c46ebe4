"""μ-law 8 kHz test audio: tones, silence, espeak-ng speech when the machine has it, loudness,
and the tags the bench uses to tell which call a frame belongs to."""

from __future__ import annotations

import math
import shutil
import subprocess
from functools import cache

RATE = 8000
BYTES_PER_MS = 8
FRAME = 160
"""One Twilio media frame: 20 ms."""
SILENCE = 0xFF
_TAG = b"\xfe\xfd"


def linear_to_ulaw(sample: int) -> int:
    """G.711 μ-law of a 16-bit sample (the classic algorithm; test audio needs no more)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    s = min(abs(sample), clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not s & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (s >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


@cache
def _ulaw_magnitudes() -> bytes:
    """|sample| >> 8 for each μ-law code (0..127), for a cheap loudness count with translate."""
    out = bytearray(256)
    for code in range(256):
        u = ~code & 0xFF
        exponent = (u >> 4) & 0x07
        mantissa = u & 0x0F
        magnitude = ((mantissa << 3) + 0x84) << exponent
        out[code] = min(127, (magnitude - 0x84) >> 8)
    return bytes(out)


def loud_table(threshold: int) -> bytes:
    """bytes.translate table: 1 for codes louder than `threshold` (in units of 256), else 0."""
    mags = _ulaw_magnitudes()
    return bytes(1 if m >= threshold else 0 for m in mags)


@cache
def tone(ms: int, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    n = ms * BYTES_PER_MS
    peak = amplitude * 32767
    return bytes(
        linear_to_ulaw(int(peak * math.sin(2 * math.pi * freq * i / RATE))) for i in range(n)
    )


def silence(ms: int) -> bytes:
    return bytes([SILENCE]) * (ms * BYTES_PER_MS)


@cache
def espeak(text: str) -> bytes | None:
    """Real synthetic speech (espeak-ng piped through sox), or None without those tools."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        return None
    try:
        wav = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", text], check=True,
                             capture_output=True, timeout=10).stdout
        raw = subprocess.run(["sox", "-t", "wav", "-", "-r", "8000", "-c", "1", "-e", "mu-law",
                              "-b", "8", "-t", "raw", "-"], input=wav, check=True,
                             capture_output=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return raw or None


def speech(text: str, ms: int | None = None) -> bytes:
    """Audio for `text`: espeak-ng when present and no exact length is asked, else a tone."""
    if ms is None:
        spoken = espeak(text)
        if spoken:
            return spoken
        ms = max(200, 60 * len(text))
    return tone(ms, 330.0, 0.25)


def tagged_silence(tag: int) -> bytes:
    """A quiet 20 ms frame that names its call: marker + the tag's four nibbles."""
    nibbles = bytes(0xF0 | ((tag >> s) & 0xF) for s in (12, 8, 4, 0))
    return (_TAG + nibbles + bytes([SILENCE]) * FRAME)[:FRAME]


def find_tag(audio: bytes) -> int | None:
    for off in range(0, len(audio) - 5, FRAME):
        if audio[off:off + 2] == _TAG:
            n = audio[off + 2:off + 6]
            if all(b & 0xF0 == 0xF0 for b in n):
                return (n[0] & 0xF) << 12 | (n[1] & 0xF) << 8 | (n[2] & 0xF) << 4 | (n[3] & 0xF)
    return None
