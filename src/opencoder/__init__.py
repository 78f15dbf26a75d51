"""OpenCoder Cookbook: the OpenCoder recipe as a reproducible build system."""

__version__ = "0.1.0"
