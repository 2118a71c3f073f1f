"""Retrieval wing: query preprocessing identity, the versioned FAISS index, refresh, recommend, the HTTP service, load test."""
