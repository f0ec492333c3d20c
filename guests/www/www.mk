# www tests (filled below)
