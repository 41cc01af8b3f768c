"""The server-rendered web pages: Jinja2 templates, plain forms (POST + 303), htmx as an enhancement,
SVG charts drawn on the server. See docs/architecture.md ("Web pages")."""
