"""pianola studio: make, audition, compare and download pieces in a browser (`python pipeline.py studio`)."""
