"""The Telegram channel: webhook (`phananh serve`) or polling (`phananh bot --polling`) onto the engine."""
