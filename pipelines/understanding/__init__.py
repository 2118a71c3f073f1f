"""Understanding stages: ALBERT pretraining corpus and run, entity-tagger training, comparison and prediction."""
