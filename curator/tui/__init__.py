"""The Textual face. Only this package imports Textual."""
