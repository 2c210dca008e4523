"""The role daemons (one process per role under systemd): identify, count."""
