"""Typed configs of the DSSM: one `TowerConfig` per side, one `TrainConfig`, bundled in `ModelConfig`.

The production model and the long-context teacher are the same code path and
differ only in these values (`dssm/configs/production.yaml`, `teacher.yaml`).

>>> cfg = ModelConfig()
>>> (cfg.vacancy.max_len, cfg.resume.out_dim, cfg.train.temperature)
(300, 256, 0.05)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dssm.io import load_config
from dssm.schema import RESUME_CATEGORICAL, RESUME_NUMERIC, VACANCY_CATEGORICAL, VACANCY_NUMERIC
from dssm.checks import at_least, check_numbers

ATTENTION_ON = ("rnn", "embedding", "token")
"""What a tower's attention scores read (`TowerConfig.attention_on`)."""
ACCELERATORS = ("auto", "cpu", "gpu")
STRATEGIES = ("auto", "ddp")


@dataclass
class TowerConfig:
    """One tower: BPE ids -> GRU -> attention pooling (+ features) -> MLP -> unit-norm embedding."""

    vocab_size: int = 16000
    """BPE vocabulary size; must match the tokenizer."""
    max_len: int = 300
    """Tokens read per document (first max_len after flattening sentences); the teacher uses thousands."""
    emb_dim: int = 96
    """Token embedding width."""
    hidden: int = 96
    """GRU hidden size per direction."""
    bidirectional: bool = True
    """Run the GRU in both directions (outputs concatenated: 2*hidden)."""
    dropout: float = 0.1
    """Dropout on token embeddings and inside the MLP (training only)."""
    out_dim: int = 256
    """Embedding size D; both towers must agree (scores are dot products)."""
    cat_dim: int = 16
    """Embedding width of each categorical feature."""
    mlp_hidden: int = 256
    """Hidden width of the two-layer head MLP."""
    categorical: tuple[str, ...] = VACANCY_CATEGORICAL
    """Categorical columns (unknown and missing values get their own buckets)."""
    numeric: tuple[str, ...] = VACANCY_NUMERIC
    """Numeric columns, log1p-scaled and standardised, each with a missing-value flag."""
    attention_on: str = "rnn"
    """What the attention scores read: "rnn" (s_t = w . h_t, the design's default), "embedding"
    (s_t = w . e_t: a token's weight depends on the token alone, so the mass summed per sentence
    points at the sentences whose words matter; for a teacher that labels sentences) or "token"
    (s_t = u[x_t], a learned salience per vocabulary entry that starts at 0: attention starts as mean
    pooling and a token's weight moves only as far as training moves it, so tokens the teacher rarely
    or never saw stay neutral instead of inheriting the spread of random embeddings)."""
    skill_dim: int = 0
    """Width of the skill bag's embedding (mean over the document's parsed skills, `dssm.features`); 0 = off."""
    max_skills: int = 32
    """Skills read per document when the bag is on (first mentions first)."""
    skill_min_count: int = 2
    """A skill enters the vocabulary when at least this many training documents name it (the rest share one bucket)."""
    lexical_dim: int = 0
    """Width of the lexical match channel (`dssm.tower`: a learned-weight bag of the document's tokens over fixed
    random codes that both towers share, so the score gains a weighted token-overlap term); 0 = off."""
    skill_match_dim: int = 0
    """Width of the skill match channel (`dssm.tower`: the skill bag's names over codes hashed from the names, so
    the score gains a weighted overlap of the two documents' skills; needs a parse, like `skill_dim`); 0 = off."""

    def __post_init__(self) -> None:
        check_numbers(self)
        self.categorical = tuple(self.categorical)
        self.numeric = tuple(self.numeric)
        at_least(self, 1, "vocab_size", "max_len", "emb_dim", "hidden", "out_dim", "cat_dim", "mlp_hidden", "max_skills", "skill_min_count")
        at_least(self, 0, "skill_dim", "lexical_dim", "skill_match_dim")
        if self.vocab_size < 4:
            raise ValueError(f"vocab_size must be >= 4 (BPE special tokens), got {self.vocab_size}")
        if self.attention_on not in ATTENTION_ON:
            raise ValueError(f"attention_on must be one of {ATTENTION_ON}, got {self.attention_on!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for cols, what in ((self.categorical, "categorical"), (self.numeric, "numeric")):
            if len(set(cols)) != len(cols):
                raise ValueError(f"{what} columns repeat: {list(cols)}")

    @property
    def rnn_out(self) -> int:
        """Width H of the GRU output (2*hidden when bidirectional)."""
        return self.hidden * (2 if self.bidirectional else 1)

    @property
    def num_dim(self) -> int:
        """Width K of the numeric input: a scaled value and a missing flag per numeric column."""
        return 2 * len(self.numeric)

    @property
    def embedding_dim(self) -> int:
        """Width of the tower's output: the MLP's out_dim plus the match channels' widths."""
        return self.out_dim + self.lexical_dim + self.skill_match_dim

    @property
    def bag_width(self) -> int:
        """Skill ids per document after the categorical codes (0 when the skill bag is off)."""
        return self.max_skills if self.skill_dim or self.skill_match_dim else 0


def _resume_tower() -> TowerConfig:
    return TowerConfig(categorical=RESUME_CATEGORICAL, numeric=RESUME_NUMERIC)


@dataclass
class TrainConfig:
    """Training of the two towers on response/invite pairs."""

    batch_size: int = 256
    """Positive pairs per step; the other positives of the batch are the in-batch negatives."""
    lr: float = 3e-3
    """AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    attention_lr: float = 0.0
    """Learning rate of the attention scorers (each tower's `score`; 0 = `lr`). A teacher sees few steps
    (~40 per epoch on 10k responses): a zero-initialised token salience (`attention_on: token`) moves at most
    lr per step under Adam, so its own rate decides how far the attention can sharpen in a run."""
    max_epochs: int = 8
    """Upper bound on epochs (early stopping may end sooner)."""
    temperature: float = 0.05
    """Softmax temperature tau: logits are cos(q, d) / tau."""
    logq: bool = True
    """Subtract log Q(vacancy) (its share of positives) from in-batch logits: popularity correction."""
    hard_negatives: int = 2
    """Explicit negatives per positive drawn from the resume's views without action (0 = off)."""
    random_negatives: int = 0
    """Explicit negatives per positive drawn uniformly from all vacancies (the alternative to hard ones)."""
    val_fraction: float = 0.1
    """Share of resumes (with at least one positive) held out for validation Recall@k."""
    patience: int = 3
    """Epochs without a better validation Recall@k before stopping."""
    recall_k: int = 100
    """k of validation Recall@k (ranking all vacancies); drives checkpointing and early stopping."""
    seed: int = 0
    """Seed of the initialisation, batch order and negative sampling (and of the split unless `split_seed` is set)."""
    split_seed: int | None = None
    """Seed of the held-out resume split; None = `seed`. Fixing it while `seed` varies keeps the same held-out
    resumes across training seeds, so their figures can be paired and pooled."""
    grad_clip: float = 1.0
    """Gradient norm clip (0 = off)."""
    max_train_pairs: int = 0
    """Cap on positive pairs per epoch, sampled once (0 = all); keeps the teacher's epochs short."""
    num_workers: int = 0
    """DataLoader worker processes (0 = batches built in the training process)."""
    accelerator: str = "auto"
    """Lightning accelerator: "auto" (a GPU when torch sees one, else the CPU), "cpu" or "gpu"."""
    devices: int = 1
    """Training processes (CPU processes or GPUs). Above 1 each takes `batch_size` pairs per step (the global
    batch is devices * batch_size) and the in-batch candidates are gathered across them."""
    strategy: str = "auto"
    """"auto" (one process) or "ddp" (distributed data parallel over `devices` processes, gloo on CPU, NCCL on GPUs)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed", "split_seed")
        at_least(self, 1, "batch_size", "max_epochs", "patience", "recall_k", "devices")
        if self.accelerator not in ACCELERATORS or self.strategy not in STRATEGIES:
            raise ValueError(f"accelerator must be one of {ACCELERATORS} and strategy one of {STRATEGIES}, got {self.accelerator!r}, {self.strategy!r}")
        if self.devices > 1 and self.strategy != "ddp":
            raise ValueError(f"devices {self.devices} needs strategy ddp (got {self.strategy!r})")
        at_least(self, 0, "hard_negatives", "random_negatives", "max_train_pairs", "num_workers")
        if self.lr <= 0 or self.temperature <= 0:
            raise ValueError(f"lr and temperature must be > 0, got {self.lr}, {self.temperature}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.attention_lr < 0:
            raise ValueError(f"attention_lr must be >= 0 (0 = lr), got {self.attention_lr}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0")

    @property
    def held_out_seed(self) -> int:
        """The seed the held-out resume split is drawn with."""
        return self.seed if self.split_seed is None else self.split_seed


@dataclass
class ModelConfig:
    """A two-tower model: the vacancy tower, the resume tower, how they were trained, and their tokenizer."""

    vacancy: TowerConfig = field(default_factory=TowerConfig)
    """Vacancy tower."""
    resume: TowerConfig = field(default_factory=_resume_tower)
    """Resume tower."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Training settings."""
    tokenizer: str = "../tokenizer"
    """Tokenizer directory, relative to the model directory or absolute."""
    parsed: str | None = None
    """Parse folder (`jobmatch parse`) the skill bags are read from, relative to the model directory or absolute;
    set by training when a tower has `skill_dim > 0`, and read the same way when encoding, refreshing and serving."""

    @property
    def uses_skills(self) -> bool:
        return bool(self.vacancy.bag_width or self.resume.bag_width)

    def __post_init__(self) -> None:
        if self.vacancy.out_dim != self.resume.out_dim:
            raise ValueError(f"towers must share out_dim, got {self.vacancy.out_dim} and {self.resume.out_dim}")
        if self.vacancy.vocab_size != self.resume.vocab_size:
            raise ValueError("towers must share vocab_size (one tokenizer)")
        for name in ("lexical_dim", "skill_match_dim"):
            v, r = getattr(self.vacancy, name), getattr(self.resume, name)
            if v != r:
                raise ValueError(f"towers must share {name} (their match codes are compared), got {v} and {r}")


SHIPPED = ("production", "teacher", "teacher_token_attention", "demo", "demo_skills", "demo_teacher", "demo_labeller", "demo_long",
           "demo_teacher_long", "demo_long_token", "demo_long_skills", "demo_teacher_long_skills", "demo_long_lexical",
           "demo_teacher_long_lexical", "demo_long_skill_match", "demo_teacher_long_skill_match", "tiny", "tiny_skills", "tiny_teacher",
           "tiny_labeller")
"""Names of the YAML presets under dssm/configs."""


def shipped_config_path(name: str) -> Path:
    """Path of a shipped preset, e.g. `shipped_config_path("production")`."""
    return Path(str(resources.files("dssm") / "configs" / f"{name}.yaml"))


def load_model_config(path_or_name: str | Path) -> ModelConfig:
    """Load a ModelConfig from a YAML path, or a shipped preset by name ("production", "teacher", ...)."""
    if str(path_or_name) in SHIPPED:
        path_or_name = shipped_config_path(str(path_or_name))
    return load_config(ModelConfig, path_or_name)
