"""From a validated request to message bytes: the composer and the finished ``Message`` a transport gets."""
