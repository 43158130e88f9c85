"""Pictures of a page and of a render: the dependency graph (Mermaid) and the waterfall (SVG)."""
