"""Proactive Luna: what is due (pure, `due`), what to say (`content`), who runs it (`runner`,
`workers`)."""
