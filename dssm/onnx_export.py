"""ONNX export of a tower and an ONNX Runtime runner with the tower's call signature.

`export_tower(tower, path)` traces `Tower.dense_forward` (one GRU call over the padded batch:
the tower's maths without its length-chunking Python) with dynamic batch and length axes.
`OnnxTower(path)(ids, mask, cat, num)` runs it on onnxruntime's CPU provider and returns the
(B, D) embeddings as a float32 array (`.encode` also the attention); `jobmatch bench encode` checks
them against the torch tower (`ONNX_TOLERANCE`) and times both on the same batches; `Encoder(...,
runtime="onnx")` runs its towers this way (`jobmatch label --runtime onnx`: the long-context teacher,
where ONNX Runtime measured faster).

>>> import tempfile, torch
>>> from dssm.config import TowerConfig
>>> from dssm.tower import Tower
>>> t = Tower(TowerConfig(vocab_size=50, emb_dim=8, hidden=8, out_dim=4, mlp_hidden=8, categorical=("area",), numeric=("salary",)), [5]).eval()
>>> ids = torch.tensor([[5, 6, 7, 0], [9, 0, 0, 0]]); args = (ids, ids != 0, torch.tensor([[2], [3]]), torch.zeros(2, 2))
>>> path = export_tower(t, tempfile.mkdtemp() + "/tower.onnx")
>>> bool(abs(OnnxTower(path)(*args) - t(*args).detach().numpy()).max() < ONNX_TOLERANCE), t.training
(True, False)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from dssm.tower import Tower

ONNX_TOLERANCE = 1e-5
"""Largest absolute difference per embedding component accepted between ONNX Runtime and torch (unit vectors)."""
INPUTS = ("ids", "mask", "cat", "num")
OUTPUTS = ("embedding", "attention")
"""The graph's outputs: (B, D) unit embeddings and (B, T) attention weights (0 on padding), as `Tower.encode`."""


class _Dense(nn.Module):
    def __init__(self, tower: Tower):
        super().__init__()
        self.tower = tower

    def forward(self, ids: Tensor, mask: Tensor, cat: Tensor, num: Tensor) -> tuple[Tensor, Tensor]:
        return self.tower.dense_encode(ids, mask, cat, num)


def export_tower(tower: Tower, path: str | Path, opset: int = 17) -> Path:
    """Write `tower` (in eval mode) as an ONNX graph at `path` -> path. The exporter restores the mode of the
    module it is given, recursively, so the wrapper is put in eval mode too (else the tower comes back training)."""
    path = Path(path)
    n_cat, n_num = tower.cat_width, tower.cfg.num_dim
    ids = torch.ones(2, 5, dtype=torch.long)
    example = (ids, ids != 0, torch.zeros(2, n_cat, dtype=torch.long), torch.zeros(2, n_num))
    axes = {"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}, "cat": {0: "batch"}, "num": {0: "batch"}, "embedding": {0: "batch"},
            "attention": {0: "batch", 1: "tokens"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(_Dense(tower).eval(), example, str(path), input_names=list(INPUTS), output_names=list(OUTPUTS), dynamic_axes=axes,
                          opset_version=opset, dynamo=False)
    return path


class OnnxTower:
    """An exported tower on ONNX Runtime (CPU): called like the tower, returns (B, D) float32; `encode` like
    `Tower.encode` -> (embeddings (B, D), attention (B, T)) as float32 arrays."""

    def __init__(self, path: str | Path, threads: int = 0):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def encode(self, ids, mask, cat, num) -> tuple[np.ndarray, np.ndarray]:
        feed = {name: (v.numpy() if isinstance(v, Tensor) else np.asarray(v)) for name, v in zip(INPUTS, (ids, mask, cat, num))}
        feed["mask"] = feed["mask"].astype(bool)
        feed["num"] = feed["num"].astype(np.float32)
        emb, attn = self.session.run(list(OUTPUTS), feed)
        return emb, attn

    def __call__(self, ids, mask, cat, num) -> np.ndarray:
        return self.encode(ids, mask, cat, num)[0]
