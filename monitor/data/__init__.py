"""Files shipped inside the package: the sample feed of the default config."""
