"""The peers: one small server app per module, all serving the same /s1, /s2 and /s3 page."""
