"""Make the project's local collection importable in unit tests."""

import sys
from pathlib import Path

# The collection lives under collections/ansible_collections/qa/platform, so
# putting the collections folder on sys.path makes
# `ansible_collections.qa.platform` importable, the same path Ansible uses.
COLLECTIONS_DIR = Path(__file__).resolve().parents[2] / "collections"

if str(COLLECTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_DIR))
