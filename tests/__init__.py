"""ShopFest's test suite. Its processes, and the servers and commands they start, hash passwords cheaply
(accounts/service.py: the suite signs in thousands of accounts; what is tested is who gets in, not how
slow a guess is)."""

import os

os.environ.setdefault("SHOPFEST_PASSWORD_HASHING", "cheap")
