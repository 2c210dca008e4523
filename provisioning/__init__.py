"""Device identity, the election package (build, verify, import), self-test, install."""
