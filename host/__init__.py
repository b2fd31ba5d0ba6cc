"""facewave: the laptop tool of the facewave massager (compile, check, preview, upload, flash)."""
