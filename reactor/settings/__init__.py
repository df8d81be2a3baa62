"""Settings from the environment and `.env`, one module per concern.

`service.Settings` is the whole of them. A wrong value stops start-up with one line
naming it.
"""
