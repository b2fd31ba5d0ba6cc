"""The virtual facewave board: the real firmware on fake hardware under a virtual clock."""
