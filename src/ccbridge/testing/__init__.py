"""Test helpers for code that talks to Constant Contact: the sandbox as pytest fixtures."""
