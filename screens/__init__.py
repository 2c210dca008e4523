"""The commission's touchscreen pages per role (web pages in a kiosk browser); the views
call the same library functions as the CLI. Empty until the screens land."""
