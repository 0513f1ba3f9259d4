"""倾听 Qingting — complaint and crisis handling."""
