"""Notification policy: the rules file, and which rule tells whom about an invoice."""
