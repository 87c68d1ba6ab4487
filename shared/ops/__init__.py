"""What ops run: the failure-store commands, status, metrics and Flower."""
