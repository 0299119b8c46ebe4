"""The assistant's tools: typed async functions, one registry, one renderer per wire format."""
