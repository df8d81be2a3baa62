"""The operator console: what was sent, what failed, and a way to send it again."""
