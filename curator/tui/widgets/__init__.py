"""Reusable widgets (one module each); data reaches the screen only through `curator.tui.safe`."""
