"""The built-in synthetic market (`jobmatch synth`): hh.ru-like Russian documents, a hidden utility,
an exposure model and the ground truth (sentence sections, utilities, profiles).

* `market`: profiles, documents, utility, exposure, `generate_market` / `write_market`;
* `real`: semi-synthetic mode, hidden profiles derived from real vacancies;
* `calibrate`: side-by-side length / skill-position statistics in BPE tokens;
* `lexicon`: the Russian phrase banks.
"""
