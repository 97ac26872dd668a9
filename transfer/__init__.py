"""The wire contract and the medium: package format, channel rules, transfer-log entries."""
