"""The trust boundary: signing, envelopes, outbox, uploader, reference receiver. Imports nothing of station/."""
