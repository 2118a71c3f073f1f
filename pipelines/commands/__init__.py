"""CLI subcommands: each module exposes `register(subparsers)` and maps flags to a typed function."""
