"""Qt-free domain types shared by every layer: states, stream events, errors, records."""
