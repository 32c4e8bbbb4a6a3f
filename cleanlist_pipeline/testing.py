"""pytest fixtures that start a real Cleanlist sandbox process (registered as a pytest11 plugin)."""
