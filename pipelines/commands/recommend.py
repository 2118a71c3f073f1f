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


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "recommend", "Top-k vacancies for resumes from the served index.")
    add_serving_args(p)
    p.add_argument("--data", type=Path, default=None, help="dataset folder to look resumes up in")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--resume-id", nargs="+", default=None, help="resume id(s) in --data")
    who.add_argument("--resume-file", type=Path, default=None, help="JSON file: one resume object or a list of them")
    who.add_argument("--all-resumes", action="store_true", help="every resume in --data (batch mode; needs --out)")
    p.add_argument("--k", type=int, default=10, help="vacancies per resume")
    p.add_argument("--area", default=None, help="only vacancies in this area")
    p.add_argument("--salary-min", type=float, default=None, help="only vacancies offering at least this (vacancies without salary are dropped)")
    p.add_argument("--out", type=Path, default=None, help="write all results to this Parquet (resume_id, rank, vacancy_id, score, title)")
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_recommend)


def make_recommender(args: argparse.Namespace):
    from pipelines.retrieval.index import VacancyIndex
    from pipelines.retrieval.recommend import Recommender, encoder_for_manifest, preprocess_for_manifest

    index = VacancyIndex.load(args.index)
    preprocess, preprocess_id = preprocess_for_manifest(args.summarizer, index.manifest)
    return Recommender(index, encoder_for_manifest(args.model)(index.manifest), preprocess, preprocess_id)


def run_recommend(args: argparse.Namespace) -> int:
    from dssm.errors import JobmatchError
    from dssm.io import check_output
    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.recommend import MAX_K, filters_from, load_resume_file, lookup_resumes, write_recommendations

    filters = filters_from(args.area, args.salary_min)
    if not 1 <= args.k <= MAX_K:
        raise JobmatchError(f"--k must be in [1, {MAX_K}], got {args.k}")
    if args.resume_file is not None:
        resumes = load_resume_file(args.resume_file)
    else:
        if args.data is None:
            raise JobmatchError("--resume-id/--all-resumes need --data (the dataset holding the resumes)")
        ds = load_dataset(args.data)
        resumes = ds.resumes if args.all_resumes else lookup_resumes(ds.resumes, args.resume_id, str(args.data / "resumes.parquet"))
        if args.all_resumes and args.out is None:
            raise JobmatchError("--all-resumes writes Parquet: give --out")
    if args.out is not None:
        check_output(args.out, [args.index, args.data, args.model, args.summarizer, args.resume_file], args.force)
    rec = make_recommender(args)
    frame = rec.recommend_batch(resumes, args.k, filters)
    if args.out is not None:
        write_recommendations(args.out, frame)
    head = {"index_version": rec.index.version, "model_hash": rec.index.model_hash, "resumes": len(resumes), "rows": len(frame)}
    if args.out is not None and len(resumes) > 1:
        print(json.dumps({**head, "out": str(args.out)}) if args.json else f"{args.out}: {len(frame)} rows for {len(resumes)} resumes (index {rec.index.version})")
        return 0
    if args.json:
        results = [{"resume_id": rid, "items": [{"vacancy_id": v, "score": float(s), "title": t} for v, s, t in zip(g["vacancy_id"], g["score"], g["title"])]} for rid, g in frame.groupby("resume_id", sort=False)]
        print(json.dumps({**head, "results": results}, ensure_ascii=False))
    else:
        for rid, g in frame.groupby("resume_id", sort=False):
            print(f"resume {rid} (index {rec.index.version}):")
            for r in g.itertuples(index=False):
                print(f"  {r.rank:3d}. {r.vacancy_id}  {r.score:.4f}  {r.title}")
    return 0
