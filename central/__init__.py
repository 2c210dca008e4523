"""The reference central receiver (docs/protocol.md): service rules, storage, HTTP, aggregation.

``service.Receiver`` holds the rules, ``storage.Storage`` all SQL,
``server`` the HTTP face and ``aggregate`` what the centre shows.
"""
