"""SQL implementations of the repository ports in `crm/services/`, one module per concern."""
