"""Training wing: tokenizer, DSSM towers (teacher, production, control), attention labels, the LR summarizer, summaries."""
