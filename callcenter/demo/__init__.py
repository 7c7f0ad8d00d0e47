"""`callcenter demo`: sample data, simulated calls and the walkthrough's steps.

Nothing in the production packages imports this package; the demo, the
simulators and the tests do.
"""
