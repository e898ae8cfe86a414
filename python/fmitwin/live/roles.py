"""The roles of named users on a twin's or plant's OPC UA server, and the anonymous-access modes.

Free of dependencies so that the command line can offer them without the ``live`` extra.
"""

ROLES = ("reader", "operator")
ANONYMOUS = ("off", "read", "operate")
