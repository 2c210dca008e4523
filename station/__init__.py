"""Uchastok: the polling-station appliance of the Kyrgyz Republic."""
