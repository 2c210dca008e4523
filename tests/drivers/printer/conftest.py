import sys
from pathlib import Path

# The sample documents module sits beside the tests (no __init__.py in tests/).
sys.path.insert(0, str(Path(__file__).parent))
