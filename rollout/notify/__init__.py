"""Notifications: what a decision tells (events), how it reads to each sink (payloads), and the
background sender that delivers it without ever holding up a rollout (sender)."""
