"""Turning what a user typed into commands: pure functions, no database, no Slack."""
