"""agented http."""
