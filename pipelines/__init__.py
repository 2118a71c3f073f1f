"""Everything users run: CLI, data contract and import, synthetic market, index, service, evaluation."""
