"""Near-duplicate detection and decontamination (DESIGN section 7)."""
