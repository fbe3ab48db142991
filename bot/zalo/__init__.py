"""The Zalo Official Account channel: signed webhook events onto the engine, replies through the OA API v3."""
