"""PLACEHOLDER until its helper writes it."""
