"""ShopFest: run an 11.11-style global online shopping festival."""

__version__ = "0.1.0"
