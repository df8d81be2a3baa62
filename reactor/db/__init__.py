"""The database: connections, store, migrations, embedded server, replica mode.

The store has one method per SQL file; replica mode's module makes the copy of
`invoices` and the subscription.
"""
