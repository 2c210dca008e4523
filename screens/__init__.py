"""The commission's touchscreen pages per role (web pages in a kiosk browser); the views call the same
library functions as the CLI. One server process per role (screens/serve.py): the identification table
(screens/table.py) and the ballot box with the polls, protocol and manual count (screens/box.py)."""
