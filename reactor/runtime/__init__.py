"""The composition root: builds every part from the settings and runs them together."""
