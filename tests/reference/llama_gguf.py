"""An independent float64 reference for Llama-family GGUF models (SmolLM2...), used only by tests.

Written from the architecture as llama.cpp defines it (llm_build_llama): RMSNorm, grouped-query
attention with RoPE on adjacent pairs (llama.cpp's "NORM" rope; GGUF stores Q/K rows in that order),
SiLU-gated FFN, LM head tied to token_embd unless output.weight exists. Weights come from llama.cpp's
own `gguf` package and its dequantizer; every activation is float64. Shares no code with the converter.

  llama_gguf.py PATH REQUEST_JSON OUT.bin
REQUEST_JSON: {"logits": [ids...], "greedy": [{"prompt": [ids...], "steps": n}, ...]}
Writes the logits of every position of "logits" to OUT.bin (float64, little-endian, [positions, vocab])
and prints {"greedy": [[ids...], ...]}.
"""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


class Llama:
    def __init__(self, path: str):
        reader = GGUFReader(path)
        meta = {k: f.contents() for k, f in reader.fields.items()}
        assert meta["general.architecture"] == "llama", meta["general.architecture"]
        p = lambda k: meta[f"llama.{k}"]
        self.dim, self.layers = p("embedding_length"), p("block_count")
        self.heads, self.kv_heads = p("attention.head_count"), p("attention.head_count_kv")
        self.hs = self.dim // self.heads
        self.eps, self.theta = float(p("attention.layer_norm_rms_epsilon")), float(p("rope.freq_base"))
        # dequantize() returns numpy's row-major [rows, cols] = ggml's [out, in].
        self.w = {t.name: dequantize(t.data, t.tensor_type).astype(np.float64) for t in reader.tensors}
        self.head = self.w.get("output.weight", self.w["token_embd.weight"])
        self.reset()

    def rmsnorm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x, positions):
        # x: [seq, heads, hs]; rotate pairs (2i, 2i+1) by pos * theta^(-2i/hs)
        freqs = self.theta ** (-np.arange(0, self.hs, 2) / self.hs)
        angle = positions[:, None] * freqs[None, :]
        cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    def reset(self):
        self.cache = [(np.zeros((0, self.kv_heads, self.hs)), np.zeros((0, self.kv_heads, self.hs))) for _ in range(self.layers)]

    def forward(self, ids):
        """Logits [len(ids), vocab] of `ids` fed after everything fed since reset() (causal attention)."""
        start, seq = self.cache[0][0].shape[0], len(ids)
        positions = np.arange(start, start + seq, dtype=np.float64)
        x = self.w["token_embd.weight"][ids]
        causal = np.triu(np.full((seq, start + seq), -np.inf), start + 1)
        group = self.heads // self.kv_heads
        for l in range(self.layers):
            w = lambda n: self.w[f"blk.{l}.{n}.weight"]
            h = self.rmsnorm(x, w("attn_norm"))
            q = self.rope((h @ w("attn_q").T).reshape(seq, self.heads, self.hs), positions)
            k = self.rope((h @ w("attn_k").T).reshape(seq, self.kv_heads, self.hs), positions)
            v = (h @ w("attn_v").T).reshape(seq, self.kv_heads, self.hs)
            k, v = np.concatenate([self.cache[l][0], k]), np.concatenate([self.cache[l][1], v])
            self.cache[l] = (k, v)
            k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
            scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(self.hs) + causal
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            attn = np.einsum("hqk,khd->qhd", probs, v).reshape(seq, self.dim)
            x = x + attn @ w("attn_output").T
            h = self.rmsnorm(x, w("ffn_norm"))
            gate, up = h @ w("ffn_gate").T, h @ w("ffn_up").T
            x = x + (gate / (1 + np.exp(-gate)) * up) @ w("ffn_down").T
        return self.rmsnorm(x, self.w["output_norm.weight"]) @ self.head.T

    def greedy(self, prompt, steps):
        self.reset()
        logits, out = self.forward(prompt)[-1], []
        for _ in range(steps):
            out.append(int(np.argmax(logits)))
            logits = self.forward([out[-1]])[-1]
        return out


if __name__ == "__main__":
    path, request_json, out_path = sys.argv[1:]
    request = json.loads(request_json)
    model = Llama(path)
    model.reset()
    model.forward(request["logits"]).astype("<f8").tofile(out_path)
    print(json.dumps({"greedy": [model.greedy(g["prompt"], g["steps"]) for g in request["greedy"]]}))
