"""Acquisition: every source of samples behind one small base (``base.Source``).

* ``base`` — :class:`Source` and :class:`SourceNotice`.
* ``profiles`` — machine-readable sensor profiles (``firmware_interfaces/*.toml``).
* ``decoders`` — sans-I/O packet decoders, one module per device.
* ``assembler`` — decoded packets -> ``SampleBlock`` s and gap notices (sans-I/O).
* ``ble`` — :class:`BleSensorSource`, the Bleak client (imports Bleak: import it directly).
* ``scan`` / ``command`` — ``crampwatch scan`` and ``crampwatch devices``.
* ``replay`` — EDF replay source (service side).

Nothing is imported here, so ``import crampwatch.acquire`` stays cheap.
"""

__all__: list[str] = []
