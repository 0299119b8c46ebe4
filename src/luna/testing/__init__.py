"""Scripted fakes shipped with the package, for tests and local development."""
