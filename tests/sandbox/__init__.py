"""Behaviour tests of the sandbox server over real HTTP."""
