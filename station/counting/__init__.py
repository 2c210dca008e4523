"""The count role's domain: the tally (pure) and its store in count.db."""
