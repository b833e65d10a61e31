"""SHA-256 of every tensor as llama.cpp's own Python package (`gguf`) dequantizes it, for the bit-exact test.

  gguf_dequant.py file PATH          -> JSON [{name, type, sha256}] for every tensor of a GGUF file
  gguf_dequant.py meta PATH          -> JSON {key: value} of its metadata (arrays as lists)
  gguf_dequant.py synthetic OUTDIR   -> random but valid blocks of each listed type in OUTDIR/TYPE.bin,
                                        JSON [{type, sha256}] of their dequantized float32 values
"""
import hashlib
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

# Byte offsets of float16 fields in each block (random bits there could be NaN/Inf, whose payloads
# no two implementations need agree on), so they get finite random halves instead.
HALF_FIELDS = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}


def digest(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values, dtype="<f4").tobytes()).hexdigest()


def file_hashes(path: str) -> list:
    reader = GGUFReader(path)
    return [{"name": t.name, "type": t.tensor_type.name, "sha256": digest(dequantize(t.data, t.tensor_type))} for t in reader.tensors]


def metadata(path: str) -> dict:
    reader = GGUFReader(path)
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def synthetic(outdir: str, types: list) -> list:
    rng = np.random.default_rng(12345)
    result = []
    for name in types:
        qtype = GGMLQuantizationType[name]
        block_values, block_bytes = GGML_QUANT_SIZES[qtype]
        blocks = 64 if block_values > 1 else 1
        raw = rng.integers(0, 256, size=(blocks, block_bytes * (1 if block_values > 1 else 2048)), dtype=np.uint8)
        if name in ("F16", "BF16"):
            raw = raw.view(np.uint16)
            raw[(raw & 0x7F80 if name == "BF16" else raw & 0x7C00) == (0x7F80 if name == "BF16" else 0x7C00)] &= 0xBFFF
            raw = raw.view(np.uint8)
        for at in HALF_FIELDS.get(name, []):
            halves = (rng.standard_normal(blocks) * 0.01).astype(np.float16)
            raw[:, at : at + 2] = halves.view(np.uint8).reshape(blocks, 2)
        raw.tofile(f"{outdir}/{name}.bin")
        values = dequantize(raw.reshape(-1) if block_values > 1 else raw.reshape(-1), qtype)
        result.append({"type": name, "sha256": digest(values)})
    return result


if __name__ == "__main__":
    mode, arg, *rest = sys.argv[1:]
    modes = {"file": lambda: file_hashes(arg), "meta": lambda: metadata(arg), "synthetic": lambda: synthetic(arg, rest)}
    print(json.dumps(modes[mode]()))
