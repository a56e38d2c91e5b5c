"""The PSPs' official SDKs drive the simulator: each answer must pass the SDK's own models."""
