"""Everything users run, in wings along the data flow of ../shared/DESIGN.md. Each stage is one typed function
(its config dataclass + paths -> a result object); the `jobmatch` commands and the demo both call it.

Where things are, in data-flow order (stage function in brackets):

    data/        contract.py   the data contract: dtypes, ids, references, one-line errors   [validate_dir]
                 dataset.py    dataset folders: load, write (atomic), preprocess.json, truth sentences
                 split.py      the document split by id hash; the cold-vacancy split        [split_cold_vacancies]
                               (users: dssm.pairs.split_resumes)
                 importers.py  ../shared/data sets -> the contract                          [import_datasets]
                 synth/        the synthetic market: config, profiles, text, utility, exposure,
                               market, real (semi-synthetic), calibrate                     [build.synthesize]
    artifacts.py  loading what stages read: encoder, summarizer, tokenizer, labels, and the
                  preprocessing identity (summarizer, budget, tokenizer) of the query path
    training/    tokenizer.py  BPE vocabulary                                               [train_tokenizer]
                 dssm.py       teacher, production and control towers (Lightning)           [train]
                 labels.py     teacher attention -> sentence labels                         [label]
                 summarizer.py the LR summarizer and the summaries (LR, lead, TextRank, the oracle)  [train_summarizer, summarize]
    understanding/ pretrain.py ALBERT; tagging.py / classify.py the tagger and the sentence classifier;
                 corpus.py     a dataset parsed into entities and sections, incremental       [parse_corpus]
    retrieval/   index.py      versioned FAISS index store, search, filters
                 refresh.py    index build and nightly refresh, checked, atomic switch      [build_embedding_index, refresh_index]
                 encode.py     embeddings of a dataset                                      [encode]
                 recommend.py  the query path: compatibility checks, top-k per resume
                 explain.py    matched / missing skills and best sentences per item; a pair as HTML
                 service.py    the HTTP service; loadtest.py its bounded load test
    evaluation/  stats.py      every bootstrap, test and p-value (one definition each)
                 metrics.py    ranking metrics, AUC/GAUC, exact top-k
                 baselines.py  TF-IDF, BM25, popularity
                 arms.py       arms and their scorers
                 evaluate.py   offline evaluation and the Talent Match outcome check         [run_evaluation]
                 seeds.py      pooling evaluations over training seeds (paired over the same resumes)
                 explanations.py  the explanations' matched skills against a market's true skills  [explanation_check]
                 summaries.py  summary quality vs truth, key skills, labels; highlight       [evaluate_summaries, highlight_document]
                 report.py     tables, plots, HTML
                 ab/           analysis (per-user tables, SRM/Welch/delta/CUPED/Holm), its report, the replay simulator
                                                                                             [analyze_log, simulate.replay]
    bench/       speed and memory benchmarks, each against a same-run baseline
    demo.py      every stage in order, reusing finished ones                                 [run_demo]
    commands/    argument parsing and printing only; flags derived from the config dataclasses (flags.py)
    cli.py       the `jobmatch` console script

A module imports only its own wing or the wings above it in this list (tests/test_layout.py).
"""
