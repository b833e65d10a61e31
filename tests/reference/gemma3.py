"""Gemma 3 text model, float64, written from the architecture (HF Gemma3ForCausalLM) to check our export.

Reads the weights of a GGUF file through llama.cpp's own `gguf` package (its dequantizers), not through
anything the converter wrote. Usage, all in one process so the weights are dequantized once:

    python gemma3.py MODEL.gguf REQUEST_JSON OUT.f32
      REQUEST_JSON: {"logits": IDS, "greedy": [IDS, ...], "n": N}
      writes float32 logits [len(logits ids), vocab] of one forward to OUT.f32 and prints
      {"greedy": [[N greedy next ids], ...]} (decoded with a KV cache, one logits row per step)

Architecture, from the GGUF metadata where it is there and from Gemma 3's definition where it is not:
embedding × √width; per layer RMSNorm → Q/K/V → per-head RMSNorm of Q and K → RoPE (rotate-halves) →
causal attention scaled by 1/√head_dim (query_pre_attn_scalar = head_dim for 270M), sliding window on
local layers → O → post-attention RMSNorm + residual; pre-FFN RMSNorm → GELU(tanh)(gate) · up → down →
post-FFN RMSNorm + residual; final RMSNorm; logits with the tied embedding. Every 6th layer is global
(RoPE base from `rope.freq_base`), the others local (RoPE base 10,000, window `attention.sliding_window`).
llama.cpp stores Gemma's RMSNorm weights with the +1 already added, so norms multiply by the stored weight.
"""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

LOCAL_ROPE_BASE = 10000.0
GLOBAL_EVERY = 6


class Gemma3:
    def __init__(self, path):
        r = GGUFReader(path)
        meta = {k: f.contents() for k, f in r.fields.items() if not k.startswith('tokenizer.')}
        if meta['general.architecture'] != 'gemma3':
            raise SystemExit(f"not a gemma3 GGUF: {meta['general.architecture']}")
        a = 'gemma3.'
        self.layers = int(meta[a + 'block_count'])
        self.width = int(meta[a + 'embedding_length'])
        self.heads = int(meta[a + 'attention.head_count'])
        self.kv_heads = int(meta[a + 'attention.head_count_kv'])
        self.head_dim = int(meta[a + 'attention.key_length'])
        self.eps = float(meta[a + 'attention.layer_norm_rms_epsilon'])
        self.window = int(meta[a + 'attention.sliding_window'])
        self.global_base = float(meta[a + 'rope.freq_base'])
        self.w = {t.name: dequantize(t.data, t.tensor_type).astype(np.float64).reshape([int(d) for d in reversed(t.shape)] if len(t.shape) > 1 else [-1])
                  for t in r.tensors}

    def is_local(self, layer):
        return (layer + 1) % GLOBAL_EVERY != 0

    def rms(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x, base, start=0):
        # x: [heads, n, head_dim] at positions start.., rotating the two halves of each head.
        n = x.shape[1]
        half = self.head_dim // 2
        inv = base ** (-np.arange(half, dtype=np.float64) * 2 / self.head_dim)
        ang = np.arange(start, start + n, dtype=np.float64)[:, None] * inv[None, :]
        cos, sin = np.cos(ang), np.sin(ang)
        x1, x2 = x[..., :half], x[..., half:]
        return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)

    def hidden(self, ids, cache=None):
        """Final hidden states of `ids` following the cache's positions; `cache` (a list of per-layer
        (k, v) after RoPE, extended in place) holds the keys and values of the earlier positions."""
        w = self.w
        n = len(ids)
        start = cache[0][0].shape[1] if cache and cache[0] is not None else 0
        h = w['token_embd.weight'][ids] * np.sqrt(self.width)
        pos = np.arange(start, start + n)
        for l in range(self.layers):
            p = f'blk.{l}.'
            x = self.rms(h, w[p + 'attn_norm.weight'])
            q = (x @ w[p + 'attn_q.weight'].T).reshape(n, self.heads, self.head_dim).transpose(1, 0, 2)
            k = (x @ w[p + 'attn_k.weight'].T).reshape(n, self.kv_heads, self.head_dim).transpose(1, 0, 2)
            v = (x @ w[p + 'attn_v.weight'].T).reshape(n, self.kv_heads, self.head_dim).transpose(1, 0, 2)
            q = self.rms(q, w[p + 'attn_q_norm.weight'])
            k = self.rms(k, w[p + 'attn_k_norm.weight'])
            base = LOCAL_ROPE_BASE if self.is_local(l) else self.global_base
            q, k = self.rope(q, base, start), self.rope(k, base, start)
            if cache is not None:
                if cache[l] is not None:
                    k = np.concatenate([cache[l][0], k], axis=1)
                    v = np.concatenate([cache[l][1], v], axis=1)
                cache[l] = (k, v)
            keys = np.arange(k.shape[1])
            allowed = keys[None, :] <= pos[:, None]
            if self.is_local(l):
                allowed &= pos[:, None] - keys[None, :] < self.window
            group = self.heads // self.kv_heads
            out = np.empty((self.heads, n, self.head_dim))
            for hd in range(self.heads):
                s = q[hd] @ k[hd // group].T / np.sqrt(self.head_dim)
                s = np.where(allowed, s, -np.inf)
                s = np.exp(s - s.max(axis=-1, keepdims=True))
                out[hd] = (s / s.sum(axis=-1, keepdims=True)) @ v[hd // group]
            attn = out.transpose(1, 0, 2).reshape(n, self.heads * self.head_dim) @ w[p + 'attn_output.weight'].T
            h = h + self.rms(attn, w[p + 'post_attention_norm.weight'])
            x = self.rms(h, w[p + 'ffn_norm.weight'])
            g = x @ w[p + 'ffn_gate.weight'].T
            gelu = 0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g ** 3)))
            m = (gelu * (x @ w[p + 'ffn_up.weight'].T)) @ w[p + 'ffn_down.weight'].T
            h = h + self.rms(m, w[p + 'post_ffw_norm.weight'])
        return self.rms(h, w['output_norm.weight'])

    def logits(self, ids):
        return self.hidden(ids) @ self.w['token_embd.weight'].T

    def greedy(self, ids, n):
        cache = [None] * self.layers
        h = self.hidden(ids, cache)[-1]
        out = []
        while True:
            out.append(int(np.argmax(self.w['token_embd.weight'] @ h)))
            if len(out) == n:
                return out
            h = self.hidden(out[-1:], cache)[-1]


def main():
    path, request_json, out_path = sys.argv[1:4]
    model = Gemma3(path)
    request = json.loads(request_json)
    model.logits(request['logits']).astype('<f4').tofile(out_path)
    print(json.dumps({'greedy': [model.greedy(ids, request['n']) for ids in request['greedy']]}))


if __name__ == '__main__':
    main()
