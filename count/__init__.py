"""count"""
