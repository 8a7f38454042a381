"""Shared test helpers: the in-process BLE world (bumble), emulated sensors, peripheral-side
encoders and small runners. Importable as ``support.*`` (tests/conftest.py puts
``tests/`` on ``sys.path``)."""
