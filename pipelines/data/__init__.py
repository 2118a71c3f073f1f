"""Data wing: the contract (validation), dataset folders, importers of real public data, the synthetic market."""
