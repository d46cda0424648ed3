"""The pages' words, one module per area, each a dict of key -> (English, Chinese); i18n.py joins them."""
