"""Notifications: e-mail, signed webhooks, WeCom / DingTalk / Feishu group robots, delivery log."""
