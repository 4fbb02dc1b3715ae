"""The package version, in a leaf module so that no layer imports the package facade to read it."""
__version__ = "0.1.0"
