"""Writes the weights of a BERT encoder exported to ONNX (as Hugging Face's optimum exports it)
as a model.safetensors with the usual Hugging Face tensor names, so the gateway's encoder can
load it like a sentence-transformers directory.

Named initializers (embeddings, biases, LayerNorm) keep their names. The dense layers' weights
are anonymous MatMul inputs ("onnx::MatMul_1525"); each is named after the bias its MatMul's
result is added to ("encoder.layer.0.attention.self.query.bias" gives ".weight") and transposed
from ONNX's [in, out] to the [out, in] of a torch Linear.

    python onnx-bert-to-safetensors.py model.onnx model.safetensors
"""

import json
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

PREFIXES = ("embeddings.", "encoder.", "pooler.")


def convert(model_path: str) -> dict[str, np.ndarray]:
    graph = onnx.load(model_path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out = {k: v for k, v in inits.items() if k.startswith(PREFIXES)}
    for node in graph.node:
        if node.op_type != "MatMul" or len(node.input) != 2:
            continue
        weight = node.input[1]
        if weight not in inits or weight.startswith(PREFIXES):
            continue
        adds = [c for c in consumers.get(node.output[0], []) if c.op_type == "Add"]
        biases = [i for a in adds for i in a.input if i in inits and i.endswith(".bias")]
        if len(biases) != 1:
            sys.exit(f"cannot name MatMul weight {weight}: its result goes to biases {biases}")
        name = biases[0][: -len(".bias")] + ".weight"
        if name in out:
            sys.exit(f"two MatMul weights map to {name}")
        out[name] = np.ascontiguousarray(inits[weight].T)
    return out


def write_safetensors(tensors: dict[str, np.ndarray], path: str) -> None:
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = tensors[name].astype("<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tensors = convert(sys.argv[1])
    layers = sum(1 for k in tensors if k.endswith("attention.self.query.weight"))
    if "embeddings.word_embeddings.weight" not in tensors or layers == 0:
        sys.exit(f"{sys.argv[1]} does not look like a BERT encoder")
    write_safetensors(tensors, sys.argv[2])
    print(f"{len(tensors)} tensors, {layers} layers -> {sys.argv[2]}", file=sys.stderr)


if __name__ == "__main__":
    main()
