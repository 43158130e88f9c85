"""Resolution: running the queries of one render on trio as their inputs arrive."""
