"""Benchmarks run by `jobmatch bench NAME`: each module exposes `register(bench_subparsers)` and
`run_default(out_dir: Path) -> dict` (the figures `bench all` collects). Every figure is a ratio
against a baseline measured in the same run, with the machine it ran on."""
