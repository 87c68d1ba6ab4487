"""Common code of vtex-clevertap: settings, domain logic, API clients and Redis-backed state."""
