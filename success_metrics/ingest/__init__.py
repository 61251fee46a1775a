"""Event ingest: body → events (batch), each event checked (validate), stored once (writer)."""
