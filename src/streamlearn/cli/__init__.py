"""The ``streamlearn`` command."""
