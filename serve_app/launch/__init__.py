"""The ``rfserve`` command: Ray and Serve started with the settings that make serving fast."""
