"""Evaluation wing: statistics, ranking metrics, baselines, arms, offline evaluation, summary quality, reports, A/B."""
