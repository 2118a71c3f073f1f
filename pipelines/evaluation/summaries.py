"""Summary quality against known answers: precision/recall of informative sentences, label AUC, key-skill coverage.

* Sections (synthetic market, `DIR/truth/sentences.parquet`): a sentence is
  informative when its generating section is one of `INFORMATIVE_SECTIONS`.
  Over all documents (micro average, the always-kept title excluded):
  precision = |selected ∩ informative| / |selected|, recall = |selected ∩ informative| / |informative|.
  A cut sentence counts as selected.
* Label AUC: ROC AUC of the summarizer's sentence scores against `is_summary`
  on the given (held-out) documents.
* Key-skill coverage (real hh.ru vacancies): for each vacancy with key skills,
  the share of its skills found (case-insensitive substring) in the model input
  (title + summary); averaged over vacancies.
* Teacher attention per section (`section_attention`): where the teacher's attention
  mass goes, per ground-truth section, against the section's share of the tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import DataError, JobmatchError
from dssm.text import frame_documents
from summarizer.labels import INFORMATIVE_SECTIONS
from summarizer.model import Summarizer
from summarizer.summarize import select_documents, selection_tokens


def section_precision_recall(doc_ids: Sequence[str], selections: Sequence[Sequence[tuple[int, int]]], truth: pd.DataFrame, kind: str,
                             informative: Sequence[str] | None = None) -> dict[str, float]:
    """Micro precision/recall/F1 of selected sentences vs informative ground-truth sections (title excluded).

    informative: defaults to INFORMATIVE_SECTIONS[kind].
    """
    informative = INFORMATIVE_SECTIONS.get(kind, ()) if informative is None else informative
    need = {"doc_id", "kind", "sent_idx", "section"}
    if missing := sorted(need - set(truth.columns)):
        raise DataError("truth/sentences.parquet", missing[0], "missing column")
    t = truth[(truth["kind"] == kind) & (truth["section"] != "title")]
    inf = t[t["section"].isin(list(informative))]
    truth_sets = inf.groupby(inf["doc_id"].astype("str"))["sent_idx"].apply(lambda s: set(s.astype(int))).to_dict()
    titles = truth[(truth["kind"] == kind) & (truth["section"] == "title")]
    title_sets = titles.groupby(titles["doc_id"].astype("str"))["sent_idx"].apply(lambda s: set(s.astype(int))).to_dict()
    tp = n_sel = n_inf = 0
    for doc_id, kept in zip(map(str, doc_ids), selections):
        sel = {i for i, _ in kept} - title_sets.get(doc_id, set())
        gold = truth_sets.get(doc_id, set())
        tp += len(sel & gold)
        n_sel += len(sel)
        n_inf += len(gold)
    p = tp / n_sel if n_sel else 0.0
    r = tp / n_inf if n_inf else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "selected": n_sel, "informative": n_inf}


def _skill_names(skills: Sequence[str] | None) -> list[str]:
    """A document's key skills, lower-cased and stripped, empty ones dropped."""
    return [s.strip().lower() for s in (list(skills) if skills is not None else []) if isinstance(s, str) and s.strip()]


def skill_shares(inputs: Sequence[str], skills: Sequence[Sequence[str]]) -> np.ndarray:
    """Per document, the share of its key skills found (case-insensitive substring) in its input text; NaN without skills."""
    out = np.full(len(inputs), np.nan)
    for i, (text, sk) in enumerate(zip(inputs, skills)):
        sk = _skill_names(sk)
        if sk:
            low = text.lower()
            out[i] = sum(s in low for s in sk) / len(sk)
    return out


def _mean_share(shares: np.ndarray) -> dict[str, float]:
    shares = shares[~np.isnan(shares)]
    return {"coverage": float(shares.mean()) if len(shares) else float("nan"), "documents": int(len(shares))}


def skill_coverage(inputs: Sequence[str], skills: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean share of each document's skills found in its input text (documents without skills skipped)."""
    return _mean_share(skill_shares(inputs, skills))


def coverage_report(inputs: dict[str, Sequence[str]], whole: Sequence[str], n_tokens: Sequence[int], skills: Sequence[Sequence[str]],
                    budget: int, n_boot: int = 2000, pairs: Sequence[tuple[str, str]] = ()) -> dict[str, dict]:
    """Key-skill coverage of each method's model inputs, on all documents and on those longer than `budget` tokens,
    beside the whole document (the ceiling of any cut), and each method minus lead's with a paired bootstrap
    95% CI over the documents with key skills; `pairs` (a, b) add b minus a the same way ("b - a" keys).

    inputs: method -> one input text per document; whole: the full texts; n_tokens: each document's length.
    """
    from pipelines.evaluation.stats import paired_bootstrap

    shares = {m: skill_shares(t, skills) for m, t in inputs.items()}
    shares_whole = skill_shares(whole, skills)
    long = np.asarray(n_tokens) > budget
    out = {"skill_coverage": {m: _mean_share(x) for m, x in shares.items()},
           "skill_coverage_whole_document": _mean_share(shares_whole),
           "skill_coverage_over_budget": {m: _mean_share(x[long]) for m, x in {**shares, "whole": shares_whole}.items()}}
    keep = ~np.isnan(shares_whole)
    if "lead" in shares and keep.sum() >= 2:
        out["skill_coverage_vs_lead"] = {}
        for m, x in shares.items():
            if m != "lead":
                pb = paired_bootstrap(shares["lead"][keep], x[keep], n_boot=n_boot)
                out["skill_coverage_vs_lead"][m] = {"diff": pb["diff"], "ci_low": pb["ci_low"], "ci_high": pb["ci_high"]}
    if pairs and keep.sum() >= 2:
        out["skill_coverage_pairs"] = {}
        for a, b in pairs:
            pb = paired_bootstrap(shares[a][keep], shares[b][keep], n_boot=n_boot)
            out["skill_coverage_pairs"][f"{b} - {a}"] = {"diff": pb["diff"], "ci_low": pb["ci_low"], "ci_high": pb["ci_high"], "documents": int(keep.sum())}
    return out


def attention_on_skill_sentences(labels: pd.DataFrame, doc_ids: Sequence[str], sentences: Sequence[Sequence[str]], skills: Sequence[Sequence[str]],
                                  kind: str = "vacancies") -> dict[str, float]:
    """Does the teacher look at the sentences naming the document's key skills?

    Over body sentences (index > 0) of labelled documents with key skills: ROC AUC of the
    teacher's `share_ratio` (and of `is_summary`) for "the sentence names one of the key skills"
    (case-insensitive substring). 0.5 = attention unrelated to where the skills are.
    """
    from sklearn.metrics import roc_auc_score

    rows = []
    for doc_id, sents, sk in zip(map(str, doc_ids), sentences, skills):
        sk = _skill_names(sk)
        if sk:
            rows.extend((doc_id, j, any(x in low for x in sk)) for j, low in enumerate(t.lower() for t in sents) if j > 0)
    if not rows:
        return {}
    named = pd.DataFrame(rows, columns=["doc_id", "sent_idx", "names_skill"])
    lab = labels[(labels["kind"] == kind) & (labels["n_tokens"] > 0)].assign(doc_id=lambda d: d["doc_id"].astype("str"))
    m = lab.merge(named, on=["doc_id", "sent_idx"])
    if m["names_skill"].nunique() < 2:
        return {}
    return {"auc_share_ratio": float(roc_auc_score(m["names_skill"], m["share_ratio"])), "auc_is_summary": float(roc_auc_score(m["names_skill"], m["is_summary"])),
            "sentences": int(len(m)), "naming_skills": float(m["names_skill"].mean())}


def compare_methods(sentences: list[list[str]], docs: list[list[list[int]]], has_title: Sequence[bool], kind: str, methods: Sequence[str],
                    summarizer: Summarizer | None, tokenizer, budget: int = 300, seed: int = 0) -> dict[str, tuple[list[list[tuple[int, int]]], list[str]]]:
    """method -> (selections, model input texts "title + summary" joined by newlines), same documents for all."""
    out = {}
    for m in methods:
        sel = select_documents(docs, has_title, kind, m, summarizer, int(tokenizer.vocab_size), budget, seed, sentences=sentences)
        texts, _ = selection_tokens(sentences, docs, sel, tokenizer)
        out[m] = (sel, ["\n".join(t) for t in texts])
    return out


def section_attention(labels: pd.DataFrame, truth: pd.DataFrame, kind: str = "vacancies") -> pd.DataFrame:
    """Teacher attention per document and ground-truth section: one row per (doc_id, section).

    From labels.parquet (per sentence s: attention mass m_s, read tokens n_s) and
    truth/sentences.parquet (each sentence's generating section), for section g of document d:

        mass_share_g  = sum_{s in g} m_s / M_d,        M_d = sum_s m_s
        token_share_g = sum_{s in g} n_s / T_d,        T_d = sum_s n_s
        ratio_g       = mass_share_g / token_share_g   (1 = what uniform attention gives)

    first_token / end_token: the section's span [first, end) in read-token positions,
    i.e. document positions when the teacher read the whole document (its max_len covers
    it); a section split in parts (headings, a closing line) spans from its first to its
    last part. Sections without read tokens get token_share 0, ratio NaN, span -1.

    Columns: doc_id, section, sentences, n_tokens, first_token, end_token, attention_mass,
    mass_share, token_share, ratio; documents in labels order, sections in document order.

    >>> labels = pd.DataFrame({"doc_id": "v1", "kind": "vacancies", "sent_idx": [0, 1, 2], "n_tokens": [2, 6, 2], "attention_mass": [0.1, 0.3, 0.6]})
    >>> truth = pd.DataFrame({"doc_id": "v1", "kind": "vacancies", "sent_idx": [0, 1, 2], "section": ["title", "boilerplate", "skills"]})
    >>> section_attention(labels, truth)[["section", "first_token", "end_token", "token_share", "ratio"]].round(2).to_dict("list")
    {'section': ['title', 'boilerplate', 'skills'], 'first_token': [0, 2, 8], 'end_token': [2, 8, 10], 'token_share': [0.2, 0.6, 0.2], 'ratio': [0.5, 0.5, 3.0]}
    """
    for file, table, need in (("labels.parquet", labels, ("doc_id", "kind", "sent_idx", "n_tokens", "attention_mass")),
                              ("truth/sentences.parquet", truth, ("doc_id", "kind", "sent_idx", "section"))):
        if missing := [c for c in need if c not in table.columns]:
            raise DataError(file, missing[0], "missing column")
    lab = labels.loc[labels["kind"] == kind, ["doc_id", "sent_idx", "n_tokens", "attention_mass"]].copy()
    lab["doc_id"] = lab["doc_id"].astype("str")
    lab["doc_order"] = pd.factorize(lab["doc_id"])[0]
    lab = lab.sort_values(["doc_order", "sent_idx"], kind="stable")
    lab["start"] = lab.groupby("doc_order")["n_tokens"].cumsum() - lab["n_tokens"]  # read-token offset of each sentence
    totals = lab.groupby("doc_id").agg(tokens=("n_tokens", "sum"), mass=("attention_mass", "sum"))
    tr = truth.loc[truth["kind"] == kind, ["doc_id", "sent_idx", "section"]].astype({"doc_id": "str", "sent_idx": "int64"})
    m = lab.merge(tr, on=["doc_id", "sent_idx"], how="inner", validate="one_to_one")
    if m.empty:
        raise JobmatchError(f"{kind}: labels and truth/sentences.parquet share no sentences (different datasets?)")
    read = m["n_tokens"] > 0
    m["first"] = m["start"].where(read)
    m["end"] = (m["start"] + m["n_tokens"]).where(read)
    g = m.groupby(["doc_id", "section"], sort=False).agg(
        doc_order=("doc_order", "first"), first_sent=("sent_idx", "min"), sentences=("sent_idx", "size"), n_tokens=("n_tokens", "sum"),
        first_token=("first", "min"), end_token=("end", "max"), attention_mass=("attention_mass", "sum"),
    ).reset_index()
    g = g.sort_values(["doc_order", "first_sent"], kind="stable").reset_index(drop=True)
    tot = totals.loc[g["doc_id"]]
    tokens, mass = tot["tokens"].to_numpy(np.float64), tot["mass"].to_numpy(np.float64)
    g["mass_share"] = np.divide(g["attention_mass"].to_numpy(np.float64), mass, out=np.zeros(len(g)), where=mass > 0)
    g["token_share"] = np.divide(g["n_tokens"].to_numpy(np.float64), tokens, out=np.zeros(len(g)), where=tokens > 0)
    g["ratio"] = np.divide(g["mass_share"].to_numpy(), g["token_share"].to_numpy(), out=np.full(len(g), np.nan), where=(g["token_share"] > 0).to_numpy() & (mass > 0))
    g[["first_token", "end_token"]] = g[["first_token", "end_token"]].fillna(-1).astype("int64")
    cols = ["doc_id", "section", "sentences", "n_tokens", "first_token", "end_token", "attention_mass", "mass_share", "token_share", "ratio"]
    return g[cols].astype({"sentences": "int64", "n_tokens": "int64", "attention_mass": "float64"})


def section_attention_summary(per_section: pd.DataFrame, cut: int = 300) -> pd.DataFrame:
    """Corpus view of `section_attention`: one row per section, in reading order (median first token).

    documents: documents holding the section; token_share, mass_share: their means over
    those documents; ratio = mean mass_share / mean token_share (1 = uniform attention);
    first_token: the median start; beyond_cut: share of the documents whose section starts
    at read-token position >= `cut`, i.e. that a first-`cut`-tokens model never sees (over
    documents where the section was read).
    """
    if missing := [c for c in ("doc_id", "section", "first_token", "mass_share", "token_share") if c not in per_section.columns]:
        raise DataError("section_attention table", missing[0], "missing column")
    df = per_section.assign(started=per_section["first_token"].where(per_section["first_token"] >= 0))
    out = df.groupby("section").agg(
        documents=("doc_id", "nunique"), token_share=("token_share", "mean"), mass_share=("mass_share", "mean"), first_token=("started", "median"),
        beyond_cut=("started", lambda s: float((s.dropna() >= cut).mean()) if s.notna().any() else float("nan")),
    )
    out["ratio"] = np.divide(out["mass_share"].to_numpy(), out["token_share"].to_numpy(), out=np.full(len(out), np.nan), where=(out["token_share"] > 0).to_numpy())
    out = out.sort_values("first_token", kind="stable").reset_index()
    return out[["section", "documents", "token_share", "mass_share", "ratio", "first_token", "beyond_cut"]]


AGAINST = "against"
"""The method name under which `summarizer eval --against` reports the second summarizer."""


def evaluate_summaries(summarizer_dir: str | Path, data: str | Path, methods: Sequence[str], budget: int | None = None, holdout: float = 0.2,
                       exclude: str | Path | None = None, labels: str | Path | None = None, against: str | Path | None = None) -> dict[str, Any]:
    """Stage `summarizer eval`: every method's summaries of the held-out documents of `data` (and not in `exclude`) against
    the truth sections (synthetic market), the key skills (real vacancies) and, with `labels`, the teacher's labels.
    `against`: a second summarizer (same tokenizer) scored on the same documents as method "against", and
    lr minus it with a paired bootstrap CI.

    budget: None = the summarizer's own (`SummarizerConfig.budget`). Returns {budget, holdout, exclude, kinds: kind -> report}.
    """
    from pipelines.artifacts import load_summarizer, read_labels
    from pipelines.data.dataset import load_dataset, read_truth_sentences
    from pipelines.data.split import holdout_mask
    from pipelines.training.summarizer import kind_documents
    from summarizer.model import label_auc

    model = load_summarizer(summarizer_dir)
    tok = model.load_tokenizer()
    other = load_summarizer(against) if against is not None else None
    if other is not None and other.load_tokenizer().model_hash != tok.model_hash:
        raise JobmatchError(f"--against {against}: another tokenizer than {summarizer_dir}'s; the pair must read the same BPE ids")
    budget = model.cfg.budget if budget is None else int(budget)
    ds = load_dataset(data)
    frames = ds.documents
    excluded = load_dataset(exclude) if exclude is not None else None
    truth = read_truth_sentences(data)
    lab = read_labels(labels) if labels is not None else None
    out: dict[str, Any] = {"budget": budget, "holdout": holdout, "exclude": str(exclude) if exclude else None, "kinds": {}}
    for kind in model.kinds:
        df = frames[kind]
        if df.empty:
            continue
        ids, sents, docs = kind_documents(frames, tok, [kind])[kind]
        mask = holdout_mask(ids, holdout) if holdout > 0 else np.ones(len(ids), bool)
        if excluded is not None:
            mask &= ~np.isin(np.asarray(ids, dtype=str), excluded.documents[kind][schema.TABLES[kind][3]].astype(str).to_numpy())
        if not mask.any():
            continue
        sel_ids = [i for i, m in zip(ids, mask) if m]
        sel_docs = [d for d, m in zip(docs, mask) if m]
        sel_sents = [s for s, m in zip(sents, mask) if m]
        titles = df[schema.TEXT_COLUMNS[kind][0]].to_numpy(dtype=object)[mask]
        has_title = [isinstance(t, str) and bool(t.split()) for t in titles]
        res = compare_methods(sel_sents, sel_docs, has_title, kind, methods, model, tok, budget)
        if other is not None and kind in other.kinds:
            res[AGAINST] = compare_methods(sel_sents, sel_docs, has_title, kind, ["lr"], other, tok, budget)["lr"]
        rep: dict[str, Any] = {"documents": len(sel_ids)}
        if truth is not None and (truth["kind"] == kind).any():
            rep["sections"] = {m: section_precision_recall(sel_ids, sel, truth, kind) for m, (sel, _) in res.items()}
        if "skills" in df.columns:
            skills = df["skills"].to_numpy(dtype=object)[mask]
            rep.update(coverage_report({m: texts for m, (_, texts) in res.items()}, ["\n".join(s) for s in sel_sents],
                                       [sum(len(x) for x in d) for d in sel_docs], skills, budget,
                                       pairs=[(AGAINST, "lr")] if AGAINST in res and "lr" in res else []))
            if lab is not None and "share_ratio" in lab.columns:
                rep["teacher_on_skill_sentences"] = attention_on_skill_sentences(lab, sel_ids, sel_sents, skills, kind)
        if lab is not None:
            rep["auc_vs_labels"] = label_auc(model, sel_docs, sel_ids, lab, kind, sel_sents)
        out["kinds"][kind] = rep
    if not out["kinds"]:
        raise JobmatchError(f"{data}: no documents left to evaluate (holdout {holdout}" + (f", exclude {exclude})" if exclude is not None else ")"))
    return out


def highlight_document(teacher: str | Path, summarizer_dir: str | Path, data: str | Path, doc_id: str, out: str | Path,
                       budget: int | None = None) -> str:
    """Stage `summarizer highlight`: one document as self-contained HTML, tokens shaded by the teacher's attention,
    the summary's sentences marked; writes `out` and returns the one-line note it shows."""
    from dssm.io import check_output, write_text
    from pipelines.artifacts import load_encoder, load_summarizer
    from pipelines.data.dataset import load_dataset
    from summarizer.highlight import highlight_html
    from summarizer.summarize import select

    check_output(out, [teacher, summarizer_dir, data], force=True)  # a page, rewritten freely
    ds = load_dataset(data)
    found = [(k, df[df[schema.TABLES[k][3]].astype(str) == str(doc_id)]) for k, df in ds.documents.items()]
    found = [(k, row) for k, row in found if len(row)]
    if not found:
        raise DataError(str(data), "vacancy_id/resume_id", f"no document with id {doc_id!r}")
    kind, row = found[0]
    enc = load_encoder(teacher)
    model = load_summarizer(summarizer_dir)
    budget = model.cfg.budget if budget is None else int(budget)
    tok = model.load_tokenizer()
    if tok.model_hash != enc.tokenizer.model_hash:
        raise JobmatchError(f"{summarizer_dir} and {teacher} use different tokenizers")
    _, attn, _ = enc.embed_with_attention(row, kind, batch_size=1)
    sentences = frame_documents(row, kind)[0]
    doc = enc.tokenizer.encode_documents([sentences])[0]  # what `enc.tokenize` does, keeping the sentences for the section features
    scores = model.score(doc, kind, sentences)
    title = row[schema.TEXT_COLUMNS[kind][0]].iloc[0]
    if isinstance(title, str) and title.split() and len(doc):
        scores[0] = np.inf
    kept = select(scores, [len(s) for s in doc], budget)
    note = f"{kind} {doc_id}: {sum(len(s) for s in doc)} tokens, teacher read {attn[0].size}; summary {sum(k for _, k in kept)} of {budget} tokens."
    write_text(out, highlight_html([tok.subwords(s) for s in doc], attn[0], kept, title=str(title), note=note))
    return note
