"""`jobmatch recommend`: top-k vacancies for one resume (by id or JSON file), or many resumes to Parquet.

    jobmatch recommend --index runs/demo/index --data runs/demo/market --resume-id r00042 --k 10
    jobmatch recommend --index runs/demo/index --resume-file resume.json --area Москва --salary-min 150000 --json
    jobmatch recommend --index runs/demo/index --data runs/demo/market --all-resumes --out runs/demo/recs.parquet
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipelines.commands.flags import add_force_flag, add_parser


def add_serving_args(p: argparse.ArgumentParser, index_required: bool = True) -> None:
    """--index/--model/--summarizer, shared by recommend, serve and loadtest."""
    p.add_argument("--index", type=Path, required=index_required, help="index root (serves its CURRENT version)")
    p.add_argument("--model", type=Path, default=None, help="model dir; default: the one recorded in the index manifest (must match its hash)")
    p.add_argument("--summarizer", type=Path, default=None, help="summarizer dir; default: the one recorded in the index manifest (must match its hash)")


def add_explain_args(p: argparse.ArgumentParser) -> None:
    """--tagger/--parsed, shared by recommend and serve: explained recommendations (matched/missing skills, best sentences)."""
    p.add_argument("--tagger", type=Path, default=None, help="tagger folder: explain each vacancy (matched_skills, missing_skills, best_sentences); needs --parsed")
    p.add_argument("--parsed", type=Path, default=None, help="the catalogue's parse folder (`jobmatch parse` with the same tagger over --data)")


def make_explainer(args: argparse.Namespace, vacancies):
    """The Explainer of --tagger/--parsed over the catalogue's vacancies, None without them."""
    from dssm.errors import JobmatchError
    from pipelines.retrieval.explain import Explainer

    if args.tagger is None and args.parsed is None:
        return None
    if args.tagger is None or args.parsed is None:
        raise JobmatchError("explanations need both --tagger and --parsed (the catalogue parsed by that tagger)")
    if vacancies is None:
        raise JobmatchError("explanations need --data (the catalogue's vacancy texts)")
    return Explainer(args.tagger, args.parsed, vacancies)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "recommend", "Top-k vacancies for resumes from the served index; or, from a resume index, top-k candidates for vacancies.")
    add_serving_args(p)
    p.add_argument("--data", type=Path, default=None, help="dataset folder to look resumes (or vacancies) up in")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--resume-id", nargs="+", default=None, help="resume id(s) in --data")
    who.add_argument("--resume-file", type=Path, default=None, help="JSON file: one resume object or a list of them")
    who.add_argument("--all-resumes", action="store_true", help="every resume in --data (batch mode; needs --out)")
    who.add_argument("--vacancy-id", nargs="+", default=None, help="candidates: vacancy id(s) in --data (needs a resume index, `index build --side resumes`)")
    who.add_argument("--vacancy-file", type=Path, default=None, help="candidates: JSON file with one vacancy object or a list of them")
    who.add_argument("--all-vacancies", action="store_true", help="candidates for every vacancy in --data (batch mode; needs --out)")
    p.add_argument("--k", type=int, default=10, help="results per query")
    p.add_argument("--area", default=None, help="only results in this area")
    p.add_argument("--salary-min", type=float, default=None, help="vacancies: only those offering at least this (vacancies without salary are dropped)")
    p.add_argument("--salary-max", type=float, default=None, help="candidates: only resumes asking at most this (resumes naming no salary pass)")
    p.add_argument("--experience-min", type=float, default=None, help="candidates: only resumes with at least this many years (unknown experience is dropped)")
    p.add_argument("--out", type=Path, default=None, help="write all results to this Parquet (query id, rank, result id, score, title)")
    add_explain_args(p)
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_recommend)


def make_recommender(args: argparse.Namespace):
    from pipelines.retrieval.index import EmbeddingIndex
    from pipelines.retrieval.recommend import Recommender, encoder_for_manifest, preprocess_for_manifest

    index = EmbeddingIndex.load(args.index)
    preprocess, preprocess_id = preprocess_for_manifest(args.summarizer, index.manifest)
    return Recommender(index, encoder_for_manifest(args.model)(index.manifest), preprocess, preprocess_id)


def run_recommend(args: argparse.Namespace) -> int:
    from dssm import schema
    from dssm.errors import JobmatchError
    from dssm.io import check_output
    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.recommend import MAX_K, filters_from, load_document_file, lookup_documents, write_recommendations

    kind = "vacancies" if args.vacancy_id or args.vacancy_file or args.all_vacancies else "resumes"
    ids, file, every = (args.vacancy_id, args.vacancy_file, args.all_vacancies) if kind == "vacancies" else (args.resume_id, args.resume_file, args.all_resumes)
    filters = filters_from(args.area, args.salary_min, args.salary_max, args.experience_min)
    if not 1 <= args.k <= MAX_K:
        raise JobmatchError(f"--k must be in [1, {MAX_K}], got {args.k}")
    if file is not None:
        queries = load_document_file(file, kind)
    else:
        if args.data is None:
            raise JobmatchError(f"--{schema.SINGULAR[kind]}-id/--all-{kind} need --data (the dataset holding the {kind})")
        ds = load_dataset(args.data)
        table = ds.vacancies if kind == "vacancies" else ds.resumes
        queries = table if every else lookup_documents(table, ids, kind, str(args.data / schema.TABLES[kind][0]))
        if every and args.out is None:
            raise JobmatchError(f"--all-{kind} writes Parquet: give --out")
    if args.out is not None:
        check_output(args.out, [args.index, args.data, args.model, args.summarizer, file], args.force)
    rec = make_recommender(args)
    if rec.query_kind != kind:
        hint = "a resume index (`jobmatch index build --side resumes`)" if kind == "vacancies" else "a vacancy index"
        raise JobmatchError(f"{args.index} is an index of {rec.index.side.kind}: queries of {kind} need {hint}")
    explainer = make_explainer(args, load_dataset(args.data).vacancies if args.data is not None else None) if kind == "resumes" else None
    if explainer is None and kind == "vacancies" and (args.tagger or args.parsed):
        raise JobmatchError("explanations are for vacancies recommended to resumes, not for candidates")
    frame = rec.recommend_batch(queries, args.k, filters)
    if args.out is not None:
        write_recommendations(args.out, frame)
    qid, rid = schema.TABLES[kind][3], rec.index.side.id_col
    head = {"index_version": rec.index.version, "model_hash": rec.index.model_hash, kind: len(queries), "rows": len(frame)}
    if args.out is not None and len(queries) > 1:
        print(json.dumps({**head, "out": str(args.out)}) if args.json else f"{args.out}: {len(frame)} rows for {len(queries)} {kind} (index {rec.index.version})")
        return 0
    groups = list(frame.groupby(qid, sort=False))
    why = {}
    if explainer is not None:
        skills = dict(zip(queries[qid].astype(str), explainer.resume_skills(queries)))
        why = {q: explainer.explain(skills[str(q)], g[rid].tolist()) for q, g in groups}
    if args.json:
        results = [{qid: q, "items": [{rid: v, "score": float(s), "title": t, **(why[q][i] if why else {})}
                                      for i, (v, s, t) in enumerate(zip(g[rid], g["score"], g["title"]))]} for q, g in groups]
        print(json.dumps({**head, "results": results}, ensure_ascii=False))
    else:
        for q, g in groups:
            print(f"{schema.SINGULAR[kind]} {q} (index {rec.index.version}):")
            for i, r in enumerate(g.itertuples(index=False)):
                print(f"  {r.rank:3d}. {getattr(r, rid)}  {r.score:.4f}  {r.title}")
                if why:
                    w = why[q][i]
                    print(f"       matched: {', '.join(w['matched_skills']) or '-'}; missing: {', '.join(w['missing_skills']) or '-'}")
    return 0
