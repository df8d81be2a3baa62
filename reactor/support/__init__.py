"""Cross-cutting helpers that any layer may use.

Masking personal data, logs, metrics, where the SQL files are, asyncio bounds, text
tables, the console's password and session primitives.
"""
