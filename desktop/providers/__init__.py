"""Wire dialects that turn one HTTP exchange into typed stream events; no Qt, no store."""
