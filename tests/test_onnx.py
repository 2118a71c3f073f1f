"""The tower exported to ONNX gives the torch tower's embeddings on real batches of the tiny run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dssm.batching import TokenStore, length_sorted_batches
from dssm.onnx_export import ONNX_TOLERANCE, OnnxTower, export_tower
from pipelines.artifacts import load_encoder
from pipelines.data.dataset import load_dataset

pytest.importorskip("onnxruntime", reason="ONNX Runtime is a dev dependency (make install)")


@pytest.mark.parametrize("kind", ["vacancies", "resumes"])
def test_onnx_tower_equals_torch_on_real_batches(tiny_run, tmp_path, kind):
    enc = load_encoder(tiny_run["production"])
    tower = enc.model.tower(kind)
    df = load_dataset(tiny_run["data"]).documents[kind]
    store = TokenStore.from_documents(enc.tokenize(df, kind), tower.cfg.max_len)
    cat, num = enc.features[kind].transform(df)
    runner = OnnxTower(export_tower(tower, tmp_path / f"{kind}.onnx"), threads=1)
    assert not tower.training  # the export leaves the tower as it found it
    worst, shapes = 0.0, set()
    with torch.inference_mode():
        for rows in length_sorted_batches(store.lengths, 32):  # batches of other sizes and lengths than the export's example
            ids, mask = store.batch(rows)
            for cut in (ids.shape[1], 17):  # the documents as stored, and cut to 17 tokens
                args = (ids[:, :cut], mask[:, :cut], torch.from_numpy(cat[rows]), torch.from_numpy(num[rows]))
                worst = max(worst, float(np.abs(runner(*args) - tower(*args).numpy()).max()))
                shapes.add(tuple(args[0].shape))
    assert len({b for b, _ in shapes}) > 1 and len({t for _, t in shapes}) > 1 and worst <= ONNX_TOLERANCE


def test_label_on_onnx_runtime_gives_the_torch_labels(tiny_run, tmp_path):
    """`jobmatch label --runtime onnx`: the teacher on ONNX Runtime labels every sentence as torch does."""
    import pandas as pd

    from pipelines.training.labels import label
    from summarizer.config import LabelRule

    label(LabelRule(), tiny_run["teacher"], tiny_run["data"], tmp_path / "onnx.parquet", runtime="onnx")
    torch_labels, onnx_labels = pd.read_parquet(tiny_run["labels"]), pd.read_parquet(tmp_path / "onnx.parquet")
    assert torch_labels[["doc_id", "sent_idx"]].equals(onnx_labels[["doc_id", "sent_idx"]])
    assert (torch_labels["is_summary"] == onnx_labels["is_summary"]).all()
    assert np.abs(torch_labels["attention_mass"] - onnx_labels["attention_mass"]).max() <= ONNX_TOLERANCE


def test_unknown_runtime_is_one_line(tiny_run):
    from dssm.errors import JobmatchError

    with pytest.raises(JobmatchError, match="runtime must be one of"):
        load_encoder(tiny_run["production"], runtime="tensorrt")
