"""Attention-distilled extractive summarizer: sentence labels, LR model, summarize(), baselines."""
