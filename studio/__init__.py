import time as _time

__version__ = "0.1.0"
IMPORTED_AT = _time.time()
