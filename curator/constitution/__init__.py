"""The constitution: Markdown (or JSON) principles parsed into a clause tree."""
