"""Uploaded files: storage, safety checks, and who may see them."""
