"""Order events: hook parsing, the VTEX-order to CleverTap-record mapping, and the delivery pipeline."""
