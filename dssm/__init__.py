"""Two-tower DSSM for vacancy-resume matching: text pipeline, towers, losses, training, encoding.

`dssm` is the base package: it must not import `summarizer` or `pipelines`.
"""
