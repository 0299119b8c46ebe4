"""Tables and the engine. Services are the only users of sessions."""
