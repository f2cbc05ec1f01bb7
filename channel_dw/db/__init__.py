"""Database access: the embedded server, connections and the warehouse's own schema."""
