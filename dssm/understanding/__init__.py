"""Resume and vacancy understanding: a small ALBERT encoder, an entity tagger (ALBERT -> BiLSTM -> token head) and their tag maths."""
