"""Runs, history, status and usage for the TUI, with no UI code.

Nothing in this package imports Textual, so the command line, scripts and
tests can use it without a terminal; ``tests/tui/test_core_boundary.py``
checks that.
"""
