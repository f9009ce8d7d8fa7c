"""An independent reference implementation of a sentence-transformers BERT model (for example
all-MiniLM-L6-v2) in plain numpy, float64: tokenizer from the model's tokenizer.json (HF
`tokenizers`), weights read straight from model.safetensors, the BERT encoder written out, mean
or CLS pooling (1_Pooling/config.json) and L2 normalisation as sentence-transformers does. With
--query each text is a search query: the model's query prompt
(config_sentence_transformers.json, `prompts.query`) goes first, as
`SentenceTransformer.encode(text, prompt_name="query")` does. The tests compare the gateway's
Rust vectors with these.

    python bert_reference.py MODEL_DIR [--query] < texts.json > vectors.json
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(raw[base + start : base + end], dtype=_DTYPES[meta["dtype"]])
        out[name.removeprefix("bert.")] = arr.reshape(meta["shape"]).astype(np.float64)
    return out


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class Reference:
    def __init__(self, model_dir: str):
        d = Path(model_dir)
        self.cfg = json.loads((d / "config.json").read_text())
        st = d / "sentence_bert_config.json"
        max_len = json.loads(st.read_text()).get("max_seq_length", 256) if st.exists() else 256
        self.tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(max_len)
        self.w = load_safetensors(d / "model.safetensors")
        pooling = d / "1_Pooling" / "config.json"
        self.cls = pooling.exists() and json.loads(pooling.read_text()).get("pooling_mode_cls_token", False)
        st_config = d / "config_sentence_transformers.json"
        prompts = json.loads(st_config.read_text()).get("prompts", {}) if st_config.exists() else {}
        self.query_prompt = prompts.get("query") or ""

    def embed_one(self, text: str) -> np.ndarray:
        w, cfg = self.w, self.cfg
        eps = cfg.get("layer_norm_eps", 1e-12)
        heads = cfg["num_attention_heads"]
        ids = self.tok.encode(text).ids
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        h = x.shape[1]
        hd = h // heads
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def lin(name, v):
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin("attention.self.query", x).reshape(n, heads, hd).transpose(1, 0, 2)
            k = lin("attention.self.key", x).reshape(n, heads, hd).transpose(1, 0, 2)
            v = lin("attention.self.value", x).reshape(n, heads, hd).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s = s / s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(n, h)
            a = layer_norm(
                lin("attention.output.dense", ctx) + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            inner = gelu(lin("intermediate.dense", a))
            x = layer_norm(
                lin("output.dense", inner) + a,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                eps,
            )
        pooled = x[0] if self.cls else x.mean(0)
        return pooled / np.linalg.norm(pooled)


def main() -> None:
    ref = Reference(sys.argv[1])
    texts = json.load(sys.stdin)
    if "--query" in sys.argv[2:]:
        texts = [ref.query_prompt + t for t in texts]
    json.dump([ref.embed_one(t).tolist() for t in texts], sys.stdout)


if __name__ == "__main__":
    main()
