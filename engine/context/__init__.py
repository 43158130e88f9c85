"""What a query can receive besides other queries' results: the request, the response head
(shell queries only) and the app's long-lived resources."""
