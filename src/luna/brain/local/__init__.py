"""The local, offline brain: a hassil grammar over the household's own words, running the same
tools the LLM would. Entry point: `luna.brain.local.engine.LocalBrain`."""
