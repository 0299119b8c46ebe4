"""HTTP edges: the REST API, webhooks and the dashboard."""
