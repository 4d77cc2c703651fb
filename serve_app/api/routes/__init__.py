"""One router per group of endpoints; the ingress includes them all."""
