"""The HTTP service: the app and its wiring, the shared request plumbing (problems, identification, audit edge, limits)."""
