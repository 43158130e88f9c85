"""The wire: the bytes of the streaming format and the inline browser runtime."""
