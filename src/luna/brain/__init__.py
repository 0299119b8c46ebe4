"""Luna's brain: `converse()` for every text channel; local grammar first, then the LLM."""
