"""Live coupling of a twin to its plant: OPC UA and MQTT adapters, the validating gateway, the
event-time synchronizer, publishing, history, and a real-time FMU plant to couple to.

Modules: ``config`` (twin TOML), ``readings`` (reading, quality and link types), ``opcua`` and
``mqtt`` (adapters), ``access`` and ``roles`` (users of the OPC UA servers), ``replay`` (CSV and
recorded readings), ``gateway``, ``synchronizer`` (filtering, divergence policy, commands),
``publish``, ``history``, ``twin`` (wiring and tasks), ``plant`` and ``status`` (the terminal
screen). ``fmitwin run`` and ``fmitwin plant`` use them.
"""
