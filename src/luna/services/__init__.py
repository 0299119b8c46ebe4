"""Use cases over the database. Each public method is one transaction."""
