"""Training pairs/s: one process (the baseline) vs DDP over CPU processes, and a GPU where torch sees one.

Every arm trains the same model config on the same synthetic market, tokenizer, split and global
batch for the same epochs: the DDP arm's processes take `batch_size / devices` pairs each, so the
optimisation is the one of the baseline (in-batch candidates gathered across processes). pairs/s is
`jobmatch train`'s own figure (training batches only, validation excluded); `ratio` is each arm's
pairs/s over the one-process CPU arm's in the same run. Validation Recall@k is shown beside it, so a
faster arm that learns less is visible.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from dssm.io import write_json
from pipelines.bench.machine import machine, ratio

QUICK = {"n_vacancies": 300, "n_resumes": 200, "config": "tiny", "epochs": 1, "ddp_devices": 2}
GOAL_GPU_RATIO = 20.0
"""Issue 18: training pairs/s on a GPU at least 20x the CPU's."""


def arms(ddp_devices: int, gpu: bool) -> list[dict[str, Any]]:
    """The arms run: name -> the TrainConfig fields it changes."""
    out = [{"arm": "cpu_1_process", "accelerator": "cpu", "devices": 1, "strategy": "auto"}]
    if ddp_devices > 1:
        out.append({"arm": f"cpu_ddp_{ddp_devices}_processes", "accelerator": "cpu", "devices": ddp_devices, "strategy": "ddp"})
    if gpu:
        out.append({"arm": "gpu_1_device", "accelerator": "gpu", "devices": 1, "strategy": "auto"})
    return out


def run(n_vacancies: int = 5000, n_resumes: int = 3000, config: str = "production", epochs: int = 1, ddp_devices: int = 2, work: Path | None = None) -> dict[str, Any]:
    """Train each arm of `arms` once in `work` (a temporary folder by default) -> the report."""
    import tempfile

    import torch

    from dssm.config import load_model_config
    from dssm.tokenizer import TokenizerConfig
    from pipelines.data.synth.config import SynthConfig
    from pipelines.data.synth.market import generate_market, write_market
    from pipelines.training.dssm import train
    from pipelines.training.tokenizer import train_tokenizer

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        root = Path(tmp)
        write_market(root / "market", generate_market(SynthConfig(n_vacancies=n_vacancies, n_resumes=n_resumes, seed=0)))
        base = load_model_config(config)
        train_tokenizer(TokenizerConfig(vocab_size=base.vacancy.vocab_size), root / "market", root / "tokenizer")
        rows = []
        for arm in arms(ddp_devices, torch.cuda.is_available()):
            per_device = max(1, base.train.batch_size // arm["devices"])
            tc = replace(base.train, max_epochs=epochs, patience=epochs, batch_size=per_device, accelerator=arm["accelerator"], devices=arm["devices"], strategy=arm["strategy"])
            m = train(root / "market", replace(base, train=tc), root / arm["arm"], tokenizer_dir=root / "tokenizer")
            recall = next(v for k, v in m.items() if k.startswith("best_val_recall"))
            rows.append({**arm, "batch_per_device": per_device, "global_batch": per_device * arm["devices"], "pairs_per_s": m["pairs_per_s"],
                         "fit_seconds": m["fit_seconds"], "val_recall": recall, "epochs": m["epochs_run"]})
    base_speed = rows[0]["pairs_per_s"]
    for r in rows:
        r["ratio"] = r["pairs_per_s"] / base_speed if base_speed else None
    gpu_rows = [r for r in rows if r["accelerator"] == "gpu"]
    return {"machine": machine(), "config": config, "n_vacancies": n_vacancies, "n_resumes": n_resumes, "epochs": epochs, "recall_k": base.train.recall_k, "arms": rows,
            "gpu_meets_goal": (gpu_rows[0]["ratio"] >= GOAL_GPU_RATIO) if gpu_rows else None}


def run_default(out_dir: Path, quick: bool = False) -> dict[str, Any]:
    result = run(**QUICK) if quick else run()
    write_json(Path(out_dir) / "train.json", result)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"| arm | devices | batch per device (global) | pairs/s | fit s | val Recall@{result['recall_k']} | ×1 process |", "|---|---|---|---|---|---|---|"]
    for r in result["arms"]:
        lines.append(f"| {r['arm']} | {r['devices']} | {r['batch_per_device']} ({r['global_batch']}) | {r['pairs_per_s']:.0f} | {r['fit_seconds']:.1f} | {r['val_recall']:.4f} | {ratio(r['ratio'])} |")
    return "\n".join(lines)


def reading(result: dict[str, Any]) -> str:
    rows = {r["arm"]: r for r in result["arms"]}
    parts = [f"`{result['config']}` on a {result['n_vacancies']:,}-vacancy synthetic market, {result['epochs']} epoch(s): one process {rows['cpu_1_process']['pairs_per_s']:.0f} pairs/s"]
    parts += [f"{r['arm']} {r['pairs_per_s']:.0f} ({ratio(r['ratio'])})" for r in result["arms"][1:]]
    gpu = "no GPU on this machine" if result["gpu_meets_goal"] is None else f"GPU goal >= {GOAL_GPU_RATIO:.0f}x: {'met' if result['gpu_meets_goal'] else 'NOT met'}"
    return "; ".join(parts) + f"; {gpu}."
