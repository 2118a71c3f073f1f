"""`jobmatch explain`: one resume-vacancy pair as a self-contained HTML page (matched and missing skills marked, the
vacancy's summary sentences and the teacher's attention).

    jobmatch explain --tagger RUN/tagger --data RUN/market --resume-id r000001 --vacancy-id v000042 \\
        --summarizer RUN/summarizer --teacher RUN/teacher --out pair.html
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from pipelines.commands.flags import add_parser

    p = add_parser(sub, "explain", "One resume-vacancy pair as HTML: the skills they share and the vacancy's missing ones marked in both, "
                                   "the vacancy's summary sentences and the teacher's attention per sentence.")
    p.add_argument("--tagger", type=Path, required=True, help="tagger folder (`jobmatch tagger train`)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder holding the resume and the vacancy")
    p.add_argument("--resume-id", required=True, help="resume id in --data")
    p.add_argument("--vacancy-id", required=True, help="vacancy id in --data")
    p.add_argument("--summarizer", type=Path, default=None, help="outline the vacancy's summary sentences (this summarizer's budget)")
    p.add_argument("--teacher", type=Path, default=None, help="show this teacher's attention per vacancy sentence")
    p.add_argument("--out", type=Path, required=True, help="HTML file to write (rewritten freely; never an input)")
    p.set_defaults(func=explain_cmd)


def explain_cmd(args: argparse.Namespace) -> int:
    from dssm import schema
    from dssm.io import check_output, write_text
    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.explain import pair_page
    from pipelines.retrieval.recommend import lookup_documents
    from pipelines.understanding.tagging import load_tagger

    check_output(args.out, [args.data, args.tagger, args.summarizer, args.teacher], force=True)
    ds = load_dataset(args.data)
    resume = lookup_documents(ds.resumes, [args.resume_id], "resumes", str(args.data / schema.RESUMES_FILE))
    vacancy = lookup_documents(ds.vacancies, [args.vacancy_id], "vacancies", str(args.data / schema.VACANCIES_FILE))
    write_text(args.out, pair_page(resume, vacancy, load_tagger(args.tagger), args.teacher, args.summarizer))
    print(f"{args.out}: resume {args.resume_id} and vacancy {args.vacancy_id}")
    return 0
