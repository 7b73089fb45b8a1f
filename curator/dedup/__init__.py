"""Near-duplicate detection and decontamination: one engine for the editor and the whole corpus.

See docs/architecture.md, Services, and the README's "Near-duplicates and decontamination".
"""
